"""A deleted dataset (``dataset.deleted``): the monitor drops its model's state, stored and live.

Stored documents of every model version (references, windows, alerts, traffic, predictions, feedback,
samples), the join index's remembered predictions in Redis, the live monitors, the cached "dataset
exists" answer and the drift gauges.  Idempotent: a redelivered event finds nothing left.
"""

from __future__ import annotations

from claystream_monitor.metrics import drop_model_series
from claystream_monitor.services.engine import MonitorEngine
from claystream_monitor.services.ports import DatasetDirectory, JoinIndex, MonitorStore


async def drop_dataset(workspace: str | None, dataset: str, *, engine: MonitorEngine, store: MonitorStore,
                       join: JoinIndex, directory: DatasetDirectory) -> dict[str, int]:
    engine.drop_model(workspace, dataset)
    dropped = {"documents": await store.drop_model(workspace, dataset),
               "join_keys": await join.drop_model(workspace, dataset)}
    engine.drop_model(workspace, dataset)  # a batch in flight may have restored one meanwhile
    directory.forget(workspace, dataset)
    drop_model_series(dataset)
    return dropped

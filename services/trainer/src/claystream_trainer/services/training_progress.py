"""Fine-tune progress events from the training thread, at most one a second (and always the last step)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from claystream_common.events import TrainingProgress

from claystream_trainer.domain.ports import DatasetKey
from claystream_trainer.services.ports_bundle import TrainerPorts

ProgressCallback = Callable[[int, int, "float | None"], None]


def throttled_progress(ports: TrainerPorts, dataset: DatasetKey, run_id: str,
                       publish: Callable[..., Any]) -> ProgressCallback:
    """A callback for the trainer's thread that publishes ``training.progress`` on the running loop.
    Build it inside that loop."""
    loop = asyncio.get_running_loop()
    last_sent = [0.0]

    def progress(step: int, steps: int, eta: float | None) -> None:  # called from the training thread
        now = time.monotonic()
        if step < steps and now - last_sent[0] < 1.0:
            return
        last_sent[0] = now
        event = TrainingProgress(run_id=run_id, kind="finetune", step=step, total_steps=steps,
                                 eta_s=round(eta, 1) if eta is not None else None)
        asyncio.run_coroutine_threadsafe(publish(ports, dataset, "training.progress", event), loop)

    return progress

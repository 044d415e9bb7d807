"""Consumer handlers: plain coroutines over validated envelopes (never aiokafka types)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from claystream_common.events import Envelope

from claystream_trainer.domain.ports import DatasetKey
from claystream_trainer.services.dataset_cleanup import ForgetInMemory, drop_dataset
from claystream_trainer.services.labels import forget_records, record_label, store_records
from claystream_trainer.services.ports_bundle import TrainerPorts

Poke = Callable[[DatasetKey], None]


async def on_records_ingested(events: Sequence[Envelope[Any]], *, ports: TrainerPorts, embed: Poke, train: Poke) -> None:
    for dataset in await store_records(events, ports=ports):
        embed(dataset)
        train(dataset)  # labels may have been waiting for these records' texts


async def on_records_deleted(events: Sequence[Envelope[Any]], *, ports: TrainerPorts) -> None:
    await forget_records(events, ports=ports)


async def on_responses(events: Sequence[Envelope[Any]], *, ports: TrainerPorts, train: Poke) -> None:
    touched: set[DatasetKey] = set()
    for event in events:  # in partition order: a record's answers apply in sequence
        touched.add(await record_label(event, ports=ports))
    for dataset in touched:
        train(dataset)


async def on_dataset_deleted(event: Envelope[Any], *, ports: TrainerPorts, forget_in_memory: ForgetInMemory) -> None:
    if event.workspace and event.dataset:
        await drop_dataset(DatasetKey(event.workspace, event.dataset), ports=ports, forget_in_memory=forget_in_memory)

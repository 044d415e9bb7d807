"""Which events the trainer consumes, wired to their handlers."""

from __future__ import annotations

from functools import partial

from claystream_common.kafka.consumer import Subscription

from claystream_trainer.consumers.handlers import Poke, on_dataset_deleted, on_records_deleted, on_records_ingested, on_responses
from claystream_trainer.services.dataset_cleanup import ForgetInMemory
from claystream_trainer.services.ports_bundle import TrainerPorts


def subscriptions(*, ports: TrainerPorts, embed: Poke, train: Poke, forget_in_memory: ForgetInMemory) -> list[Subscription]:
    responses = partial(on_responses, ports=ports, train=train)
    return [
        Subscription("record.ingested", batch_handler=partial(on_records_ingested, ports=ports, embed=embed, train=train)),
        Subscription("record.deleted", batch_handler=partial(on_records_deleted, ports=ports)),
        Subscription("response.submitted", batch_handler=responses),
        Subscription("response.updated", batch_handler=responses),
        Subscription("response.discarded", batch_handler=responses),
        Subscription("dataset.deleted", handler=partial(on_dataset_deleted, ports=ports, forget_in_memory=forget_in_memory)),
    ]

"""Which events the trainer consumes, wired to their handlers."""

from __future__ import annotations

from functools import partial

from claystream_common.kafka.consumer import Subscription

from claystream_trainer.consumers.handlers import Poke, on_records_ingested, on_responses
from claystream_trainer.services.ports_bundle import TrainerPorts


def subscriptions(*, ports: TrainerPorts, embed: Poke, train: Poke) -> list[Subscription]:
    responses = partial(on_responses, ports=ports, train=train)
    return [
        Subscription("record.ingested", batch_handler=partial(on_records_ingested, ports=ports, embed=embed, train=train)),
        Subscription("response.submitted", batch_handler=responses),
        Subscription("response.updated", batch_handler=responses),
        Subscription("response.discarded", batch_handler=responses),
    ]

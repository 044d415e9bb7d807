"""The predict role consumes ``model.promoted`` only: each replica in its own consumer group (a broadcast)."""

from __future__ import annotations

from claystream_common.events import Envelope, ModelPromoted
from claystream_common.kafka.consumer import Subscription

from claystream_trainer.domain.ports import DatasetKey
from claystream_trainer.services.champions import ChampionCache
from claystream_trainer.services.serving import swap_in


def promotion_subscriptions(champions: ChampionCache) -> list[Subscription]:
    async def on_promoted(event: Envelope[ModelPromoted]) -> None:
        if event.workspace and event.dataset:
            await swap_in(DatasetKey(event.workspace, event.dataset), champions)

    return [Subscription("model.promoted", handler=on_promoted)]

"""Issue 17 finding 4 on the real Redis: the prediction ↔ feedback join never crosses workspaces."""

from __future__ import annotations

import uuid

from claystream_monitor.adapters.redis_join import RedisJoinIndex
from claystream_monitor.services.ports import JoinedPrediction, ModelKey, ParkedFeedback, RequestRef
from redis.asyncio import Redis


async def test_the_join_is_scoped_by_workspace_and_model(embedded_stack) -> None:  # type: ignore[no-untyped-def]
    redis = Redis.from_url(embedded_stack.ports.redis_url, decode_responses=True)
    try:
        join = RedisJoinIndex(redis, ttl_s=60, prefix=f"t{uuid.uuid4().hex[:8]}")
        acme = JoinedPrediction("1", ModelKey("acme", "reviews", "v1"), "positive", 0.9)
        assert await join.remember([acme]) == []
        found = await join.lookup([RequestRef("acme", "1"), RequestRef("acme", "1", "reviews"), RequestRef("other", "1"),
                                   RequestRef("other", "1", "reviews"), RequestRef("acme", "1", "shadow")])
        assert set(found) == {RequestRef("acme", "1"), RequestRef("acme", "1", "reviews")}
        assert found[RequestRef("acme", "1")].key == ModelKey("acme", "reviews", "v1")
        await join.park([ParkedFeedback("2", "negative", None, "other"), ParkedFeedback("2", "positive", None, "acme", "reviews")])
        matched = await join.remember([JoinedPrediction("2", ModelKey("acme", "reviews", "v1"), "positive", 0.8)])
        assert [(p.key.workspace, f.workspace, f.true_label) for p, f in matched] == [("acme", "acme", "positive")]
        assert await join.remember([JoinedPrediction("2", ModelKey("third", "reviews", "v1"), "positive", 0.8)]) == []
        assert await join.remember([JoinedPrediction("2", ModelKey("other", "m", None), "negative", 0.7)]) != []
    finally:
        await redis.aclose()

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


async def test_a_large_batch_is_remembered_in_chunks_with_its_ttl(embedded_stack) -> None:  # type: ignore[no-untyped-def]
    """One script call per chunk of predictions: every key set with the TTL, every parked feedback found once,
    in the order of the predictions, whichever chunk holds it."""
    from claystream_monitor.adapters.redis_join import REMEMBER_CHUNK

    redis = Redis.from_url(embedded_stack.ports.redis_url, decode_responses=True)
    try:
        prefix = f"t{uuid.uuid4().hex[:8]}"
        join = RedisJoinIndex(redis, ttl_s=60, prefix=prefix)
        count = REMEMBER_CHUNK * 2 + 7
        waiting = {3, REMEMBER_CHUNK + 1, count - 1}
        await join.park([ParkedFeedback(str(i), "negative", None, "acme", "reviews" if i % 2 else None) for i in waiting])
        key = ModelKey("acme", "reviews", "v1")
        matched = await join.remember([JoinedPrediction(str(i), key, "positive", float("nan") if i == 5 else 0.5) for i in range(count)])
        assert [p.request_id for p, _ in matched] == [str(i) for i in sorted(waiting)]
        found = await join.lookup([RequestRef("acme", str(i), "reviews") for i in range(count)])
        assert len(found) == count and found[RequestRef("acme", "5", "reviews")].score != found[RequestRef("acme", "5", "reviews")].score
        ttls = {await redis.ttl(f"{prefix}:p:" + RedisJoinIndex._ref(RequestRef("acme", str(i)))) for i in (0, count - 1)}
        assert all(0 < ttl <= 60 for ttl in ttls)
        assert await join.remember([JoinedPrediction(str(i), key, "positive", 0.5) for i in waiting]) == []  # claimed once
    finally:
        await redis.aclose()


def test_the_key_of_a_request_is_its_json_triple() -> None:
    """Keys stay what they were (a rolling upgrade reads the keys the old replicas wrote)."""
    import json

    for workspace, model, request in [("acme", "reviews", "1"), (None, None, 'a"b\\c'), ("wö", "m,]", "ß\n\u2028x"), ("", "", "")]:
        expected = json.dumps([workspace or "", model or "", request], separators=(",", ":"))
        assert RedisJoinIndex._ref(RequestRef(workspace, request, model)) == expected


async def test_remember_writes_the_keys_and_values_the_old_replicas_wrote(embedded_stack) -> None:  # type: ignore[no-untyped-def]
    """remember builds its keys and values without RequestRef objects or json.dumps: byte for byte, they are still
    ``<prefix>:p:<json triple>`` (with the model and without) holding ``json.dumps([workspace, model, version,
    label, score])``, whatever the names hold (a rolling upgrade reads what either version wrote)."""
    import json

    redis = Redis.from_url(embedded_stack.ports.redis_url, decode_responses=True)
    try:
        prefix = f"t{uuid.uuid4().hex[:8]}"
        join = RedisJoinIndex(redis, ttl_s=60, prefix=prefix)
        predictions = [
            JoinedPrediction("1", ModelKey("acme", "reviews", "v1"), "positive", 0.9),
            JoinedPrediction('a"b\\c', ModelKey(None, "m,]", None), "négatif", float("nan")),
            JoinedPrediction("ß\n\u2028x", ModelKey("wö", "m", "v2"), 'la"bel', 1e-17),
            JoinedPrediction("inf", ModelKey("acme", "reviews", "v1"), "positive", float("inf")),
            JoinedPrediction("whole", ModelKey("acme", "reviews", "v1"), "positive", 1.0),
        ]
        await join.remember(predictions)
        for p in predictions:
            score = None if p.score != p.score else p.score
            expected = json.dumps([p.key.workspace, p.key.model, p.key.version, p.label, score])
            for ref in (RequestRef(p.key.workspace, p.request_id, p.key.model), RequestRef(p.key.workspace, p.request_id)):
                key = f"{prefix}:p:" + json.dumps([ref.workspace or "", ref.model or "", ref.request_id], separators=(",", ":"))
                assert await redis.get(key) == expected, (key, expected)
    finally:
        await redis.aclose()


async def test_feedback_waiting_anywhere_in_a_large_batch_joins_its_own_prediction(embedded_stack) -> None:  # type: ignore[no-untyped-def]
    """More predictions than one script call takes (REMEMBER_CHUNK): each parked feedback joins the prediction it
    names, whichever call and position carried it, and nothing else joins."""
    redis = Redis.from_url(embedded_stack.ports.redis_url, decode_responses=True)
    try:
        join = RedisJoinIndex(redis, ttl_s=60, prefix=f"t{uuid.uuid4().hex[:8]}")
        key = ModelKey("acme", "reviews", "v1")
        predictions = [JoinedPrediction(f"r{i}", key, "positive", 0.5 + i / 10_000) for i in range(1_200)]
        await join.park([ParkedFeedback("r3", "negative", None, "acme", "reviews"),
                         ParkedFeedback("r700", "positive", "thumbs_up", "acme", "reviews"),
                         ParkedFeedback("r1199", "negative", None, "acme")])  # names no model: joins by workspace
        matched = await join.remember(predictions)
        assert [(p, f.true_label, f.signal, f.model) for p, f in matched] == [
            (predictions[3], "negative", None, "reviews"), (predictions[700], "positive", "thumbs_up", "reviews"),
            (predictions[1199], "negative", None, None)]
        assert await join.remember(predictions) == [], "joined feedback is used once"
    finally:
        await redis.aclose()

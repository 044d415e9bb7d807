"""Through the real broker: record.ingested and suggestion.created in, response events out."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer
from annotate_testing import BASE, running_annotate
from claystream_common.events import RecordIngested, SuggestionCreated, decode_event, new_event
from claystream_common.kafka.producer import EventProducer

URL = f"{BASE}/default/datasets/reviews"


async def test_records_in_labels_out(embedded_stack) -> None:  # type: ignore[no-untyped-def]
    async with running_annotate(embedded_stack, consumers_enabled="true") as annotate:
        await annotate.dataset()
        producer = EventProducer(embedded_stack.ports.kafka_bootstrap, service="test")
        await producer.start()
        consumer = AIOKafkaConsumer("responses", bootstrap_servers=embedded_stack.ports.kafka_bootstrap,
                                    group_id=f"probe-{uuid.uuid4().hex}", auto_offset_reset="latest")
        await consumer.start()
        try:
            while not consumer.assignment():
                await asyncio.sleep(0.1)
            await consumer.seek_to_end()
            record_id = uuid.uuid4().hex
            ingested = new_event("record.ingested", RecordIngested(record_id=record_id, external_id="k1", fields={"text": "via kafka"}),
                                 dataset="reviews", workspace="default")
            await producer.publish(ingested, key=record_id)
            await producer.publish(ingested, key=record_id)  # redelivery: still one record
            suggestion = new_event("suggestion.created", SuggestionCreated(record_id=record_id, question="sentiment", label="pos",
                                                                           score=0.7, model_version="m1", priority=0.5),
                                   dataset="reviews", workspace="default")
            for _ in range(300):
                found = (await annotate.owner.get(f"{URL}/records/{record_id}"))
                if found.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert found.status_code == 200 and found.json()["fields"] == {"text": "via kafka"}
            await producer.publish(suggestion, key=record_id)
            for _ in range(300):
                suggestions = (await annotate.owner.get(f"{URL}/records/{record_id}")).json()["suggestions"]
                if suggestions:
                    break
                await asyncio.sleep(0.1)
            assert suggestions == [{"question": "sentiment", "value": "pos", "score": 0.7, "agent": "claystream-trainer", "model_version": "m1"}]
            saved = await annotate.owner.put(f"{URL}/records/{record_id}/response", json={"values": {"sentiment": "neg"}})
            assert saved.status_code == 200
            seen: dict[str, object] = {}
            async with asyncio.timeout(30):
                while {"response.submitted", "record.completed"} - set(seen):
                    batch = await consumer.getmany(timeout_ms=500)
                    for messages in batch.values():
                        for message in messages:
                            event = decode_event(message.value)
                            if getattr(event.data, "record_id", None) == record_id:
                                seen[event.type] = event
                                assert message.key == record_id.encode()
            submitted = seen["response.submitted"]
            assert submitted.data.values == {"sentiment": "neg"} and submitted.dataset == "reviews"  # type: ignore[attr-defined]
            assert (await annotate.owner.get(f"{URL}")).json()["progress"]["records"] == 1
        finally:
            await consumer.stop()
            await producer.stop()

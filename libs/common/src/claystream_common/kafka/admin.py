"""Create topics with explicit partition counts (no reliance on auto-creation)."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from claystream_common.topics import TopicSpec, topic_specs

log = logging.getLogger(__name__)


async def ensure_topics(bootstrap_servers: str, specs: list[TopicSpec] | None = None, *, timeout_s: float = 30) -> list[str]:
    """Create the missing topics; return the names created.  Idempotent."""
    specs = specs if specs is not None else topic_specs()
    deadline = asyncio.get_running_loop().time() + timeout_s
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    while True:
        try:
            await admin.start()
            break
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.3)
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(s.name, s.partitions, 1) for s in specs if s.name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
        return [t.name for t in missing]
    finally:
        await admin.close()

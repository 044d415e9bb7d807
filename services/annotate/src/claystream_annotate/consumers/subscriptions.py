"""Which events the annotate service consumes, wired to their handlers."""

from __future__ import annotations

from functools import partial

from claystream_common.kafka.consumer import Subscription
from claystream_annotate.consumers.handlers import RecordStore, on_records_ingested


def subscriptions(*, records: RecordStore) -> list[Subscription]:
    return [Subscription("record.ingested", batch_handler=partial(on_records_ingested, records=records))]

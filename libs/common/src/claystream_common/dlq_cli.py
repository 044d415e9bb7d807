"""``claystream-dlq`` command line: ``list`` and ``replay`` over :mod:`claystream_common.dlq_tool`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from claystream_common.dlq_ledger import JsonFileLedger, LedgerError, MongoLedger, ReplayLedger
from claystream_common.dlq_tool import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    REPLAY_HEADER,
    DlqEntry,
    DlqToolSettings,
    ToolError,
    dlq_topic_name,
    read_topic,
    replay_entries,
    select_entries,
)
from claystream_common.kafka.producer import EventProducer


def _offset_ref(value: str) -> str:
    parts = value.split(":")
    if len(parts) > 2 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"{value!r} is not an offset (N or PARTITION:N)")
    return value


def build_parser(settings: DlqToolSettings) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--bootstrap", default=settings.kafka_bootstrap_servers,
                        help="Kafka bootstrap servers (env CLAYSTREAM_DLQ_KAFKA_BOOTSTRAP_SERVERS)")
    common.add_argument("--topic", required=True, help="the original topic (e.g. records); its <topic>.dlq is read")
    parser = argparse.ArgumentParser(
        prog="claystream-dlq",
        description="List and replay dead-lettered Kafka messages. Reading never commits offsets.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", parents=[common], help="show the entries of <topic>.dlq with their cause")
    listing.add_argument("--limit", type=int, default=None, help="show at most N entries (oldest first)")
    listing.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    replay = commands.add_parser(
        "replay",
        parents=[common],
        help="re-publish DLQ entries to their original topic",
        description=(
            "Re-publish the original value, key and headers (minus x-* DLQ headers, plus "
            f"{REPLAY_HEADER}) to the topic named by x-original-topic. Every replay is recorded and a "
            "second replay of the same entry is refused unless --force. Consumers are idempotent by "
            "event id, so a replay that duplicates an event processed meanwhile is harmless. "
            "Exit status: 0 all replayed, 1 a publish failed or an offset is unknown, 3 some were refused or skipped."
        ),
    )
    chosen = replay.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--offset", dest="offsets", action="append", type=_offset_ref, metavar="N",
                        help="DLQ offset to replay (N for partition 0, or PARTITION:N); repeatable")
    chosen.add_argument("--all", action="store_true", help="replay every entry of the DLQ")
    replay.add_argument("--dry-run", action="store_true", help="show what would be replayed, publish nothing")
    replay.add_argument("--force", action="store_true", help="replay entries that were replayed before")
    replay.add_argument("--mongo-url", default=settings.mongo_url,
                        help="record replays in Mongo collection dlq_replays (env CLAYSTREAM_DLQ_MONGO_URL)")
    replay.add_argument("--mongo-db", default=settings.mongo_db, help="database for --mongo-url")
    replay.add_argument("--state-file", type=Path, default=settings.state_file,
                        help="JSON file recording replays when no --mongo-url (default %(default)s)")
    return parser


def _print_table(entries: Sequence[DlqEntry], topic: str, out: TextIO) -> None:
    print(f"{topic}: {len(entries)} entries", file=out)
    if not entries:
        return
    print(f"{'OFFSET':<8} {'KEY':<38} {'EVENT TYPE':<20} {'FROM':<22} {'ATT':>3}  {'GROUP':<24} ERROR", file=out)
    for entry in entries:
        row = {k: ("-" if v is None else v) for k, v in entry.to_json().items()}
        origin = f"{row['original_topic']}[{row['original_partition']}]@{row['original_offset']}"
        error = " ".join(str(row["error"]).split())[:160]
        print(
            f"{entry.ref:<8} {str(row['key'])[:38]:<38} {str(row['event_type'])[:20]:<20} {origin[:22]:<22} "
            f"{row['attempts']!s:>3}  {str(row['consumer_group'])[:24]:<24} {error}",
            file=out,
        )


async def _list(args: argparse.Namespace, out: TextIO) -> int:
    topic = dlq_topic_name(args.topic)
    entries = await read_topic(args.bootstrap, topic, limit=args.limit)
    if args.json:
        print(json.dumps([e.to_json() for e in entries], indent=1), file=out)
    else:
        _print_table(entries, topic, out)
    return EXIT_OK


async def _replay(args: argparse.Namespace, out: TextIO) -> int:
    topic = dlq_topic_name(args.topic)
    entries = await read_topic(args.bootstrap, topic)
    missing: list[str] = []
    if not args.all:
        entries, missing = select_entries(entries, args.offsets)
    for ref in missing:
        print(f"{'missing':<12} {topic}@{ref}: no such DLQ entry", file=out)
    ledger: ReplayLedger = (
        MongoLedger(args.mongo_url, args.mongo_db) if args.mongo_url else JsonFileLedger(args.state_file)
    )
    producer = None if args.dry_run else EventProducer(args.bootstrap, service="dlq-tool")
    try:
        if producer is not None:
            try:
                await producer.start()
            except Exception as error:  # noqa: BLE001
                raise ToolError(f"cannot reach Kafka at {args.bootstrap}: {error!r}") from None
        outcomes = await replay_entries(
            entries, publisher=producer, ledger=ledger, dry_run=args.dry_run, force=args.force
        )
    finally:
        if producer is not None:
            await producer.stop()
        await ledger.close()
    for outcome in outcomes:
        print(outcome.line(), file=out)
    statuses = ("replayed", "would-replay", "refused", "skipped", "failed")
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in statuses}
    summary = [f"{k} {v}" for k, v in counts.items() if v] + ([f"missing {len(missing)}"] if missing else [])
    print("summary: " + (", ".join(summary) or "nothing to replay"), file=out)
    if counts["failed"] or missing:
        return EXIT_FAILED
    return EXIT_REFUSED if counts["refused"] or counts["skipped"] else EXIT_OK


async def run(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """The CLI as a coroutine (tests call it inside their event loop); returns the exit status."""
    out = out or sys.stdout
    try:
        settings = DlqToolSettings()
    except ValidationError as error:
        print(f"claystream-dlq: error: invalid CLAYSTREAM_DLQ_* settings: {error}", file=sys.stderr)
        return EXIT_USAGE
    args = build_parser(settings).parse_args(argv)
    try:
        return await (_list(args, out) if args.command == "list" else _replay(args, out))
    except (ToolError, LedgerError) as error:
        print(f"claystream-dlq: error: {error}", file=sys.stderr)
        return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(asyncio.run(run(argv)))


if __name__ == "__main__":  # pragma: no cover
    main()

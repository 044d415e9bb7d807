"""Debounced training triggers: one run per dataset at a time, guarded by a Redis lease lock.

Label events only ``poke`` a dataset; after ``debounce_s`` of quiet the scheduler reads the counters,
decides (domain.thresholds) and runs the due training under the lock, renewing the lease while it
runs.  The counters are decremented by what the run consumed, so labels that arrive during a run
trigger the next one.  A failing run publishes ``training.failed``, releases the lock and consumes
its labels (no hot retry loop); a crashed process simply lets its lease expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from claystream_common.datasets import TrainerSettings as DatasetTrainerSettings
from claystream_common.events import TrainingFailed, new_event
from opentelemetry import trace

from claystream_trainer.domain.ports import DatasetKey
from claystream_trainer.metrics import TRAINING_DURATION, TRAINING_RUNS
from claystream_trainer.domain.thresholds import LabelCounts, TrainingKind, decide
from claystream_trainer.services.ports_bundle import TrainerPorts
from claystream_trainer.services.refresh import NotEnoughLabels, RunOutcome
from claystream_trainer.services.training_data import training_target

log = logging.getLogger(__name__)
_TRACER = trace.get_tracer("claystream.trainer")

Runner = Callable[[DatasetKey, TrainingKind, str], Awaitable[RunOutcome]]


@dataclass(frozen=True)
class SchedulerConfig:
    debounce_s: float
    lease_s: float
    finetune_enabled: bool


async def read_counts(dataset: DatasetKey, *, ports: TrainerPorts) -> LabelCounts:
    """Counters from Redis, rebuilt from MongoDB (labels vs. the last models' label counts) when lost."""
    labelled = await ports.labels.labelled(dataset)
    per_class: dict[str, int] = {}
    for label in labelled.values():
        for member in label if isinstance(label, tuple) else (label,):  # a multi-label answer counts each label
            per_class[member] = per_class.get(member, 0) + 1
    raw = await ports.counters.read(dataset)
    if raw is None:
        last_refresh = await ports.registry.champion(dataset)
        last_finetune = await ports.registry.last_of_kind(dataset, "finetune")
        refresh = len(labelled) - (last_refresh.label_count if last_refresh else 0)
        finetune = len(labelled) - (last_finetune.label_count if last_finetune else 0)
        await ports.counters.reset_to(dataset, refresh=max(0, refresh), finetune=max(0, finetune))
        raw = {"refresh": max(0, refresh), "finetune": max(0, finetune)}
    return LabelCounts(per_class=per_class, new_since_refresh=raw.get("refresh", 0),
                       new_since_finetune=raw.get("finetune", 0))


class TrainingScheduler:
    def __init__(self, ports: TrainerPorts, runner: Runner, config: SchedulerConfig) -> None:
        self._ports = ports
        self._runner = runner
        self._config = config
        self._timers: dict[DatasetKey, asyncio.Task[None]] = {}
        self._running: dict[DatasetKey, asyncio.Task[None]] = {}
        self._forced: dict[DatasetKey, set[asyncio.Task[Any]]] = {}  # POST /train runs: stopped with the rest
        # a poke that came while a check was running: the context (trace) to check again in when it ends
        self._owed: dict[DatasetKey, contextvars.Context] = {}
        self.outcomes: list[RunOutcome] = []
        self.failures: list[str] = []

    def poke(self, dataset: DatasetKey) -> None:
        """Something changed: check again after ``debounce_s`` of quiet (restarting the timer)."""
        timer = self._timers.get(dataset)
        if timer is not None and not timer.done():
            timer.cancel()
        self._timers[dataset] = asyncio.create_task(self._after_quiet(dataset), name=f"debounce:{dataset}")

    async def _after_quiet(self, dataset: DatasetKey) -> None:
        await asyncio.sleep(self._config.debounce_s)
        running = self._running.get(dataset)
        if running is not None and not running.done():
            self._owed[dataset] = contextvars.copy_context()  # checked again when the running one ends
            return
        self._running[dataset] = asyncio.create_task(self._check_then_settle(dataset), name=f"train:{dataset}")

    async def _check_then_settle(self, dataset: DatasetKey) -> None:
        """One check; then, if pokes came meanwhile, one more (in the trace of the last of them).  A check
        that read the counts just before new labels were counted would otherwise leave them waiting
        for the next event."""
        try:
            await self.check_and_run(dataset)
        finally:
            owed = self._owed.pop(dataset, None)
            if owed is not None:
                owed.run(self.poke, dataset)

    def run_now(self, dataset: DatasetKey, kind: TrainingKind) -> asyncio.Task[Any]:
        """A training asked for (``POST /train``), in the background; like the scheduler's own runs it is cancelled
        when its dataset is deleted (it went on, failed on the dropped cache, and recreated the deleted counters)."""
        task = asyncio.create_task(self.check_and_run(dataset, force=kind), name=f"train-now:{dataset}")
        forced = self._forced.setdefault(dataset, set())
        forced.add(task)
        task.add_done_callback(forced.discard)
        return task

    def _tasks(self, dataset: DatasetKey | None = None) -> list[asyncio.Task[Any]]:
        keys = [dataset] if dataset is not None else list({*self._timers, *self._running, *self._forced})
        tasks: list[asyncio.Task[Any]] = []
        for key in keys:
            tasks += [t for t in (self._timers.get(key), self._running.get(key)) if t is not None]
            tasks += list(self._forced.get(key, ()))
        return tasks

    async def check_and_run(self, dataset: DatasetKey, *, force: TrainingKind | None = None) -> RunOutcome | None:
        with _TRACER.start_as_current_span("trainer threshold check", attributes={
                "claystream.workspace": dataset.workspace, "claystream.dataset": dataset.dataset}) as span:
            outcome = await self._check_and_run(dataset, force=force)
            span.set_attribute("claystream.training.ran", outcome is not None)
            return outcome

    async def _check_and_run(self, dataset: DatasetKey, *, force: TrainingKind | None = None) -> RunOutcome | None:
        spec = await self._ports.specs.get(dataset)
        settings = spec.trainer if spec else DatasetTrainerSettings()
        kind = force
        counts = await read_counts(dataset, ports=self._ports)
        target = training_target(spec)
        if target is None:
            log.info("%s has no question the trainer can learn: never trained", dataset)
            return None
        if kind is None:
            champion = await self._ports.registry.champion(dataset)
            kind = decide(counts, settings, target.labels, has_champion=champion is not None,
                          finetune_enabled=self._config.finetune_enabled and self._ports.finetuner is not None,
                          multi_label=target.multi_label)
        if kind is None:
            return None
        name = f"{dataset.workspace}:{dataset.dataset}"
        token = await self._ports.lock.acquire(name, self._config.lease_s)
        if token is None:
            log.info("training of %s already running elsewhere", dataset)
            return None
        run_id = uuid.uuid4().hex
        keeper = asyncio.create_task(self._keep_lease(name, token), name=f"lease:{dataset}")
        outcome: RunOutcome | None = None
        consume = True
        try:
            with _TRACER.start_as_current_span("trainer training run", attributes={
                    "claystream.training.kind": kind, "claystream.training.run_id": run_id,
                    "claystream.training.new_labels": counts.new_since_refresh}):
                with TRAINING_DURATION.time():
                    outcome = await self._runner(dataset, kind, run_id)
            self.outcomes.append(outcome)
            TRAINING_RUNS.labels("trained").inc()
        except NotEnoughLabels as error:
            consume = False  # e.g. label events ahead of their records: the records' arrival pokes again
            log.info("no training for %s yet: %s", dataset, error)
        except asyncio.CancelledError:
            consume = False  # stopped (a deploy, a restart): the labels stay counted and the next start checks again
            raise
        except Exception as error:
            log.exception("training %s of %s failed", kind, dataset)
            self.failures.append(f"{dataset}:{kind}:{error!r}")
            TRAINING_RUNS.labels("failed").inc()
            with contextlib.suppress(Exception):
                await self._ports.publisher.publish_many([new_event("training.failed", TrainingFailed(
                    run_id=run_id, kind=kind, error=repr(error)[:500]), dataset=dataset.dataset,
                    workspace=dataset.workspace)], keys=[dataset.dataset])
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            consumed_finetune = counts.new_since_finetune if kind == "finetune" else 0
            if consume:
                with contextlib.suppress(Exception):
                    await self._ports.counters.consume(dataset, refresh=counts.new_since_refresh,
                                                       finetune=consumed_finetune)
            with contextlib.suppress(Exception):
                await self._ports.lock.release(name, token)
        if force is None and consume:
            self.poke(dataset)  # labels that arrived meanwhile
        return outcome

    async def _keep_lease(self, name: str, token: str) -> None:
        while True:
            await asyncio.sleep(self._config.lease_s / 3)
            try:
                if not await self._ports.lock.renew(name, token, self._config.lease_s):
                    log.warning("lost the training lease %s", name)
                    return
            except Exception as error:  # noqa: BLE001 - keep trying; the lease outlives a blip
                log.warning("lease renewal failed: %r", error)

    async def resume(self) -> int:
        """At start: check every dataset with counted labels.  A training that was due, or cut off by the last
        stop, would otherwise wait for the next label event (whose offsets were committed long ago)."""
        datasets = await self._ports.counters.datasets()
        for dataset in datasets:
            self.poke(dataset)
        return len(datasets)

    async def stop_dataset(self, dataset: DatasetKey) -> None:
        """Cancel the dataset's pending check and running training, and wait until they ended."""
        self._owed.pop(dataset, None)
        tasks = self._tasks(dataset)
        self._timers.pop(dataset, None)
        self._running.pop(dataset, None)
        self._forced.pop(dataset, None)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def wait_idle(self) -> None:
        for task in self._tasks():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def close(self) -> None:
        for task in self._tasks():
            task.cancel()
        await self.wait_idle()

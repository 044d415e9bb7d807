"""The simulated annotator and the learning curve: label through the API, let the trainer learn, measure it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from claystream_devstack.demo_api import AnnotatorSession, DemoApi
from claystream_devstack.demo_steps import StepTimeout, wait_for

QUESTION = "sentiment"


@dataclass(frozen=True)
class CurvePoint:
    labels: int
    model_version: str
    kind: str
    label_count: int
    trainer_metrics: dict[str, Any]
    test_accuracy: float | None


def label_batch(session: AnnotatorSession, truth: dict[str, str], todo: list[str], count: int) -> int:
    """Label ``count`` records the way an annotator does: ask the queue, answer, repeat.

    ``truth``: record id → true label.  The queue may offer a record whose true label the simulation
    does not know (an unlabelled review): it is given back and a known one is labelled instead, so
    unlabelled reviews stay pending (and get the trainer's suggestions).
    """
    done = 0
    while done < count and todo:
        offered = session.next_record()
        if offered is None:
            break
        record_id = str(offered["id"])
        if record_id in truth and record_id in todo:
            todo.remove(record_id)
        else:
            session.release(record_id)
            record_id = todo.pop(0)
        session.submit(record_id, {QUESTION: truth[record_id]})
        done += 1
    return done


def newest_model(api: DemoApi) -> dict[str, Any] | None:
    items = api.models().get("items") or []
    return max(items, key=lambda m: (m.get("label_count", 0), str(m.get("created_at") or ""))) if items else None


def champion(api: DemoApi) -> dict[str, Any] | None:
    answer = api.models()
    version = answer.get("champion")
    return next((m for m in answer.get("items") or [] if m.get("version") == version), None)


def wait_model_for(api: DemoApi, labels: int, *, timeout_s: float, kind: str | None = None) -> dict[str, Any]:
    """Until the registry holds a model trained on ≥ ``labels`` labels (of ``kind`` when given)."""
    def probe() -> tuple[bool, str]:
        items = api.models().get("items") or []
        fit = [m for m in items if m.get("label_count", 0) >= labels and (kind is None or m.get("kind") == kind)]
        return bool(fit), f"{len(items)} model(s), label counts {sorted({m.get('label_count') for m in items})}"

    wait_for(f"a {kind or 'model'} trained on ≥{labels} labels", probe, timeout_s=timeout_s, interval_s=1.0)
    return newest_model(api) or {}


def test_accuracy(api: DemoApi, rows: list[dict[str, Any]], *, batch: int = 64) -> tuple[float, str]:
    """The champion's accuracy on held-out rows (``text``, ``label``), through the predict endpoint."""
    correct, version = 0, ""
    for start in range(0, len(rows), batch):
        chunk = rows[start:start + batch]
        answer = api.predict([r["text"] for r in chunk], forward=False, request_id=f"demo-eval-{uuid.uuid4().hex[:8]}")
        version = str(answer["model_version"])
        correct += sum(p["label"] == r["label"] for p, r in zip(answer["predictions"], chunk, strict=True))
    return correct / max(1, len(rows)), version


def curve_point(api: DemoApi, labels: int, eval_rows: list[dict[str, Any]]) -> CurvePoint | None:
    model = champion(api)
    if model is None:
        return None
    accuracy, version = test_accuracy(api, eval_rows) if eval_rows else (None, model["version"])
    if version != model["version"]:  # promoted meanwhile: describe the one that answered
        model = next((m for m in api.models().get("items") or [] if m.get("version") == version), model)
    return CurvePoint(labels, str(model["version"]), str(model.get("kind")), int(model.get("label_count", 0)),
                      dict(model.get("metrics") or {}), accuracy)


def learn(
    api: DemoApi,
    session: AnnotatorSession,
    truth: dict[str, str],
    eval_rows: list[dict[str, Any]],
    *,
    chunk: int,
    train_wait_s: float,
    deadline: float,
    busy_wait_s: float = 15.0,
    labelled_before: int = 0,
    echo: Callable[[str], None] = print,
) -> tuple[list[CurvePoint], list[str]]:
    """Label everything in ``truth`` in chunks; after each, wait (bounded) for a model and measure it.

    After a wait timed out (the trainer is busy, e.g. fine-tuning) later chunks wait only
    ``busy_wait_s``; no wait runs past ``deadline`` (``time.monotonic()``).  Returns the curve and the
    timeouts met on the way (the labelling goes on after a timeout).
    """
    todo = list(truth)
    points: list[CurvePoint] = []
    timeouts: list[str] = []
    labelled = labelled_before  # a second run continues where the first one stopped
    while todo:
        started = time.monotonic()
        labelled += label_batch(session, truth, todo, chunk)
        echo(f"demo:   {labelled} labels submitted ({time.monotonic() - started:.1f}s)")
        wait_s = min(busy_wait_s if timeouts else train_wait_s, max(1.0, deadline - time.monotonic()))
        try:
            model = wait_model_for(api, labelled, timeout_s=wait_s)
        except StepTimeout as error:
            timeouts.append(str(error))
            echo(f"demo:   TIMEOUT {error} (labelling goes on)")
            continue
        point = curve_point(api, labelled, eval_rows)
        if point is not None:
            points.append(point)
            shown = f"{point.test_accuracy:.3f}" if point.test_accuracy is not None else "n/a"
            echo(f"demo:   newest {model.get('kind')} {model.get('version')} on {model.get('label_count')} labels; "
                 f"champion {point.model_version}: test accuracy {shown}")
    if not points and champion(api) is not None:  # every wait timed out, but a model landed meanwhile
        point = curve_point(api, labelled, eval_rows)
        points.extend([point] if point else [])
    return points, timeouts


def wait_suggestions(api: DemoApi, *, timeout_s: float) -> dict[str, int]:
    """Until pending records carry the trainer's suggestions; counts of pending / with suggestions."""
    def probe() -> tuple[bool, dict[str, int]]:
        pending = api.all_records(status="pending")
        suggested = [r for r in pending if any(s.get("question") == QUESTION for s in r.get("suggestions") or [])]
        return bool(suggested), {"pending": len(pending), "with_suggestions": len(suggested)}

    return dict(wait_for("suggestions on pending records", probe, timeout_s=timeout_s, interval_s=1.0))

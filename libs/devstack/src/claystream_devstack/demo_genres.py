"""The second demo dataset: movie genres from plot overviews (multi-label, TMDB), next to IMDb sentiment.

Set-up (idempotent, same workspace): dataset ``tmdb_genres`` with the fields ``title`` and ``text`` (the
overview), one multi-label question ``genres`` (the 19 TMDB genres), guidelines, and ``count`` unlabelled
overviews (seeded) imported through the SDK.  The annotator ticks the genres; every ``refresh_every``
labels the trainer refits its one-vs-rest head and pre-fills the genres it predicts.  The overviews come
from ``../shared/data/tmdb_genres`` when present, else from the packaged sample (``sample_data/``).
"""

from __future__ import annotations

from typing import Any

from claystream_devstack import demo_data
from claystream_devstack.demo_api import DemoApi

DATASET = "tmdb_genres"
TRAIN_FILE = "tmdb_genres/train.jsonl.gz"
GENRES = ["Drama", "Comedy", "Action", "Thriller", "Adventure", "Romance", "Crime", "Family", "Science Fiction",
          "Fantasy", "Horror", "Mystery", "Animation", "History", "War", "Music", "Western", "Documentary", "Foreign"]

GUIDELINES = """# Genres of a movie from its overview

Read the title and the overview, then tick **every** genre the movie belongs to (one to seven; most have two
or three). Tick a genre when the overview makes it clear, not when it is merely possible: a murder in a
comedy does not make it a crime film unless the story is about the crime.
Keyboard: the digits 1–9 toggle the first nine genres, `Enter` submits, `Backspace` discards.
Suggested genres are pre-ticked once the trainer has a model (each with its score).
"""


def dataset_body(trainer: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": DATASET,
        "guidelines": GUIDELINES,
        "fields": [{"name": "title", "title": "Title", "required": False},  # monitor samples carry the text only
                   {"name": "text", "title": "Overview", "required": True}],
        "questions": [{"name": "genres", "title": "Genres", "type": "multi_label", "labels": GENRES}],
        "metadata_properties": [{"name": "source", "type": "terms"}, {"name": "year", "type": "integer"}],
        "trainer": {"text_field": "text", **(trainer or {})},
    }


def ensure_dataset(api: DemoApi, trainer: dict[str, Any] | None = None) -> str:
    if api.get_dataset() is not None:
        return "exists"
    api.create_dataset(dataset_body(trainer))
    return "created"


def records_of(rows: list[dict[str, Any]], *, source: str) -> list[dict[str, Any]]:
    """The SDK's records: the TMDB id as external id (re-running never duplicates), no genres (to label)."""
    return [{"external_id": str(row["id"]), "fields": {"title": row["title"], "text": row["text"]},
             "metadata": {"source": source, **({"year": int(row["year"])} if row.get("year") else {})}}
            for row in rows]


def import_overviews(client: Any, rows: list[dict[str, Any]]) -> int:
    result = client.log(records_of(rows, source="tmdb_train"), dataset=DATASET, batch_size=500, progress=False)
    if result.rejected:
        raise RuntimeError(f"ingest rejected {len(result.rejected)} overviews, first: {result.rejected[0]}")
    return int(result.accepted)


def unlabelled_overviews(count: int, seed: int = 42) -> list[dict[str, Any]]:
    return demo_data.sample(TRAIN_FILE, count, seed=seed)

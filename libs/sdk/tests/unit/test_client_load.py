"""Client.load / prepare_for_training against annotate's records API (faked with httpx.MockTransport)."""

from __future__ import annotations

import httpx
import pytest

from claystream import ClaystreamError, Client, prepare_for_training

ITEMS = [
    {"id": "r1", "external_id": "1", "fields": {"text": "great"}, "metadata": {"year": 1999}, "status": "completed",
     "priority": 0.0, "suggestions": [{"question": "sentiment", "value": "positive", "score": 0.9, "agent": "setfit",
                                       "model_version": "v1"}],
     "responses": [{"user_id": "u1", "status": "submitted", "values": {"sentiment": "positive"}, "updated_at": "x"},
                   {"user_id": "u2", "status": "submitted", "values": {"sentiment": "negative"}, "updated_at": "x"},
                   {"user_id": "u3", "status": "submitted", "values": {"sentiment": "positive"}, "updated_at": "x"}]},
    {"id": "r2", "external_id": "2", "fields": {"text": "awful"}, "metadata": {}, "status": "pending", "priority": 1.0,
     "suggestions": [{"question": "sentiment", "value": "negative", "score": 0.7, "agent": "setfit", "model_version": "v1"}],
     "responses": [{"user_id": "u1", "status": "draft", "values": {"sentiment": "positive"}, "updated_at": "x"}]},
    {"id": "r3", "external_id": "3", "fields": {"text": "fine"}, "metadata": {"year": 2001}, "status": "pending",
     "priority": 0.5, "suggestions": [], "responses": []},
]


def annotate(request: httpx.Request) -> httpx.Response:
    if request.url.host == "ingest":
        return httpx.Response(200, json={"workspace": "acme", "key_id": "k", "role": "annotator"})
    assert request.url.path == "/api/v1/workspaces/acme/datasets/reviews/records"
    after = request.url.params.get("after")
    start = int(after) if after else 0
    limit = int(request.url.params["limit"])
    page = ITEMS[start:start + limit]
    following = start + limit if start + limit < len(ITEMS) else None
    return httpx.Response(200, json={"items": page, "next_after": str(following) if following else None, "total": 3})


def loaded():  # type: ignore[no-untyped-def]
    client = Client("http://ingest", "cs_k", annotate_url="http://annotate", transport=httpx.MockTransport(annotate))
    return client, client.load("reviews", page_size=2)


def test_load_pages_through_records_into_a_flat_dataset() -> None:
    _, dataset = loaded()
    assert dataset.num_rows == 3
    assert dataset["id"] == ["r1", "r2", "r3"] and dataset["text"] == ["great", "awful", "fine"]
    assert dataset["sentiment.responses"] == [["positive", "negative", "positive"], [], []]
    assert dataset["sentiment.responses.users"][0] == ["u1", "u2", "u3"]
    assert dataset["sentiment.suggestion"] == ["positive", "negative", None]
    assert dataset["sentiment.suggestion.score"] == [0.9, 0.7, None]
    assert dataset["metadata.year"] == [1999, None, 2001]


def test_prepare_for_training_takes_the_majority_answer() -> None:
    client, dataset = loaded()
    prepared = prepare_for_training(dataset, question="sentiment")
    assert prepared.to_list() == [{"text": "great", "label": "positive"}]
    with_suggestions = client.prepare_for_training(dataset, question="sentiment", use_suggestions=True)
    assert with_suggestions["label"] == ["positive", "negative"]
    assert prepare_for_training(dataset, question="sentiment", strategy="first")["label"] == ["positive"]
    with pytest.raises(ValueError, match="column 'body' not in the dataset"):
        prepare_for_training(dataset, question="sentiment", text_field="body")


def test_load_needs_the_annotate_url() -> None:
    with pytest.raises(ClaystreamError, match="annotate_url"):
        Client("http://ingest", "cs_k").load("reviews")

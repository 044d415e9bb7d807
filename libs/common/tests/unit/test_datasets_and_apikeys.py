"""The dataset contract and API keys."""

from __future__ import annotations

import pytest
from claystream_common.apikeys import KEY_PREFIX, generate_api_key, hash_secret, parse_api_key, secret_matches
from claystream_common.datasets import DatasetSpec, record_id_for, valid_name
from pydantic import ValidationError


def _spec(**changes: object) -> dict[str, object]:
    spec: dict[str, object] = {
        "id": "d1",
        "workspace": "acme",
        "name": "reviews",
        "fields": [{"name": "text"}],
        "questions": [{"name": "sentiment", "type": "label", "labels": ["pos", "neg"]}],
    }
    spec.update(changes)
    return spec


def test_a_minimal_dataset_spec_gets_defaults() -> None:
    spec = DatasetSpec.model_validate(_spec())
    assert spec.min_submitted == 1
    assert spec.trainer.enabled and spec.trainer.refresh_every == 8
    assert spec.question("sentiment").allowed_values() == ["pos", "neg"]  # type: ignore[union-attr]
    assert spec.field("text") is not None and spec.field("nope") is None


@pytest.mark.parametrize(
    ("changes", "location", "reason"),
    [
        ({"name": "Bad Name"}, ("name",), "String should match pattern"),
        ({"fields": []}, ("fields",), "at least 1 item"),
        ({"questions": [{"name": "q", "type": "label", "labels": ["only"]}]}, ("questions", 0), "at least two distinct"),
        ({"questions": [{"name": "q", "type": "label", "labels": ["a", "a"]}]}, ("questions", 0), "at least two distinct"),
        ({"questions": [{"name": "q", "type": "rating"}]}, ("questions", 0), "rating_max"),
        ({"questions": [{"name": "q", "type": "essay"}]}, ("questions", 0, "type"), "Input should be"),
        ({"fields": [{"name": "text"}, {"name": "text"}]}, ("fields",), "names must be unique"),
        ({"fields": [{"name": "text", "colour": "red"}]}, ("fields", 0, "colour"), "Extra inputs"),
        ({"min_submitted": 0}, ("min_submitted",), "greater than or equal to 1"),
        ({"trainer": {"refresh_every": 0}}, ("trainer", "refresh_every"), "greater than or equal to 1"),
    ],
)
def test_invalid_specs_name_the_field_and_the_reason(changes: dict[str, object], location: tuple, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DatasetSpec.model_validate(_spec(**changes))
    errors = caught.value.errors()
    assert any(tuple(e["loc"])[: len(location)] == location and reason in e["msg"] for e in errors), errors


def test_rating_questions_allow_one_to_rating_max() -> None:
    spec = DatasetSpec.model_validate(_spec(questions=[{"name": "stars", "type": "rating", "rating_max": 5}]))
    assert spec.question("stars").allowed_values() == [1, 2, 3, 4, 5]  # type: ignore[union-attr]


def test_from_document_maps_the_mongo_id_and_ignores_storage_fields() -> None:
    document = {**_spec(), "_id": "abc123", "created_at": "2026-01-01", "updated_by": "u1"}
    del document["id"]
    spec = DatasetSpec.from_document(document)
    assert spec.id == "abc123" and spec.name == "reviews"


def test_record_ids_are_deterministic_per_workspace_dataset_and_external_id() -> None:
    assert record_id_for("acme", "reviews", "e1") == record_id_for("acme", "reviews", "e1")
    assert record_id_for("acme", "reviews", "e1") != record_id_for("other", "reviews", "e1")
    assert record_id_for("acme", "reviews", "e1") != record_id_for("acme", "reviews2", "e1")
    assert record_id_for("acme", "reviews", None) != record_id_for("acme", "reviews", None)


def test_valid_name() -> None:
    assert valid_name("reviews_2026-q1")
    assert not valid_name("Reviews") and not valid_name("-x") and not valid_name("")
    assert not valid_name("wsa\n"), "a workspace that renders as another one (Python's $ matches before a final newline)"


def test_a_generated_key_parses_and_matches_only_its_own_secret() -> None:
    key = generate_api_key()
    assert key.plaintext.startswith(KEY_PREFIX)
    parsed = parse_api_key(key.plaintext)
    assert parsed is not None
    key_id, secret = parsed
    assert key_id == key.key_id and len(key_id) == 16
    assert key.secret_sha256 == hash_secret(secret) and secret not in key.secret_sha256
    assert secret_matches(secret, key.secret_sha256)
    assert not secret_matches(secret + "x", key.secret_sha256)
    assert generate_api_key().plaintext != key.plaintext


@pytest.mark.parametrize(
    "plaintext",
    ["", "cs_", "xx_0123456789abcdef_secret", "cs_short_secret", "cs_0123456789abcdef_", "cs_0123456789abcdef"],
)
def test_malformed_keys_do_not_parse(plaintext: str) -> None:
    assert parse_api_key(plaintext) is None

"""Metadata values: what each property type accepts and the form it stores (ingest and annotate both call it)."""

from __future__ import annotations

import math

import pytest
from claystream_common.metadata import InvalidMetadata, metadata_value


@pytest.mark.parametrize(("kind", "given", "stored"), [
    ("integer", 2001, 2001),
    ("integer", 2001.0, 2001),  # a pandas column with a missing value holds floats
    ("integer", " 2001 ", 2001),  # every CSV cell is text
    ("integer", "", None),  # an empty CSV cell is no value
    ("integer", 2**63 - 1, 2**63 - 1),
    ("float", 3, 3),
    ("float", 3.5, 3.5),
    ("float", "3.5", 3.5),
    ("float", "", None),
    ("terms", "drama", "drama"),
    ("terms", "", None),  # an empty cell is no value: the CSV export writes one for a missing term
    ("terms", None, None),
])
def test_each_type_stores_its_own_form(kind: str, given: object, stored: object) -> None:
    value = metadata_value(kind, given, None)
    assert value == stored and type(value) is type(stored)


@pytest.mark.parametrize(("kind", "given", "reason"), [
    ("integer", 1999.5, "must be an integer"),
    ("integer", True, "must be an integer"),
    ("integer", "19.5", "must be an integer"),
    ("integer", math.inf, "must be an integer"),
    ("integer", 2**63, f"must be an integer from {-2**63} to {2**63 - 1}"),  # BSON stores 64 bits
    ("integer", float(2**70), f"must be an integer from {-2**63} to {2**63 - 1}"),
    ("float", math.nan, "must be a finite number (float)"),
    ("float", "inf", "must be a finite number (float)"),
    ("float", "seven", "must be a finite number (float)"),
    ("float", False, "must be a finite number (float)"),
    ("terms", 3, "must be a string (terms)"),
])
def test_what_a_type_refuses_is_named(kind: str, given: object, reason: str) -> None:
    with pytest.raises(InvalidMetadata) as caught:
        metadata_value(kind, given, None)
    assert caught.value.reason == reason


def test_terms_outside_the_allowed_ones_are_refused() -> None:
    assert metadata_value("terms", "drama", frozenset({"drama", "comedy"})) == "drama"
    with pytest.raises(InvalidMetadata, match="'horror' is not one of the allowed terms: comedy, drama"):
        metadata_value("terms", "horror", ["drama", "comedy"])

"""What a metadata value of each property type may be, and the form it is stored in: one place for every service.

- ``terms``: a string, one of the property's allowed terms when it lists them.
- ``integer``: a 64-bit integer (not a boolean).  A float without a fractional part (``2001.0``: what a pandas column
  with a missing value holds, or another language's JSON writes) and a string holding an integer (``"2001"``:
  every CSV cell is text) are stored as that integer.
- ``float``: a finite number; a string holding one is stored as the number.

For every type an empty string counts as no value (an empty CSV cell, what the CSV export writes for a missing
value), like ``null``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from typing import Any

NO_VALUE = None


class InvalidMetadata(ValueError):
    """A value the property refuses; ``reason`` says why in words a caller can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _terms(value: Any, allowed: Collection[str] | None) -> Any:
    if not isinstance(value, str):
        raise InvalidMetadata("must be a string (terms)")
    if not value.strip():
        return NO_VALUE
    if allowed is not None and value not in allowed:
        raise InvalidMetadata(f"'{value}' is not one of the allowed terms: {', '.join(sorted(allowed))}")
    return value


INT64 = (-(2**63), 2**63 - 1)  # what BSON (and so MongoDB) stores as an integer


def _cell(text: str, parse: Callable[[str], Any], reason: str) -> Any:
    """A number written as text (a CSV cell): an empty one is no value."""
    if not text.strip():
        return NO_VALUE
    try:
        return parse(text.strip())
    except ValueError:
        raise InvalidMetadata(reason) from None


def _integer(value: Any, allowed: Collection[str] | None) -> Any:
    if isinstance(value, str):
        number = _cell(value, int, "must be an integer")
        if number is NO_VALUE:
            return NO_VALUE
    elif isinstance(value, int) and not isinstance(value, bool):
        number = int(value)
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise InvalidMetadata("must be an integer")
    if not INT64[0] <= number <= INT64[1]:
        raise InvalidMetadata(f"must be an integer from {INT64[0]} to {INT64[1]}")
    return number


def _float(value: Any, allowed: Collection[str] | None) -> Any:
    if isinstance(value, str):
        value = _cell(value, float, "must be a finite number (float)")
        if value is NO_VALUE:
            return NO_VALUE
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return value
    raise InvalidMetadata("must be a finite number (float)")


def undeclared_problem(name: str, value: Any) -> str | None:
    """Why metadata no property declares cannot be kept as it is (None: it can): a plain value (string, number,
    boolean) under a name MongoDB stores as a field.  ``{declared}`` in the answer is for the caller to fill."""
    if value is not None and not isinstance(value, str | int | float):
        return "undeclared metadata must be a string, number or boolean (declared: {declared})"
    if isinstance(value, int) and not isinstance(value, bool) and not INT64[0] <= value <= INT64[1]:
        return f"integers must be from {INT64[0]} to {INT64[1]}"
    if not name or "\x00" in name or name.startswith("$") or "." in name:
        return "metadata names may not be empty, contain '.' or a NUL character, or start with '$'"
    return None


METADATA_TYPES: dict[str, Callable[[Any, Collection[str] | None], Any]] = {
    "terms": _terms, "integer": _integer, "float": _float,
}


def metadata_value(kind: str, value: Any, allowed: Collection[str] | None = None) -> Any:
    """The stored form of ``value`` for a property of type ``kind`` (None: no value), or :class:`InvalidMetadata`."""
    if value is None:
        return NO_VALUE
    return METADATA_TYPES[kind](value, allowed)

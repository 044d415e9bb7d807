"""The Jinja environment both web apps use: autoescaping everywhere and a few safe filters."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.templating import Jinja2Templates

from claystream_webui.assets import STATIC_URL, TEMPLATES_DIR

# What ``<br>``, ``<br/>`` and ``<br />`` (any case) look like AFTER HTML escaping.
_ESCAPED_BR = re.compile(r"&lt;br\s*/?&gt;", re.IGNORECASE)


def record_text(value: object) -> Markup:
    """A record's text for display: everything escaped, then line breaks restored.

    Record HTML is never rendered: the whole text is escaped first, and only the escaped
    ``&lt;br /&gt;`` sequences (IMDb's paragraph marks) and newlines become ``<br>``.
    """
    if value is None:
        return Markup("")
    escaped = str(escape(str(value)))
    escaped = _ESCAPED_BR.sub("<br>", escaped)
    escaped = escaped.replace("\r\n", "\n").replace("\n", "<br>")
    return Markup(escaped)


def percent(part: float | None, whole: float | None, digits: int = 0) -> str:
    """``part / whole`` as a percentage string; 0 when the whole is 0 or missing."""
    if not whole or part is None:
        return "0%"
    value = 100.0 * float(part) / float(whole)
    return f"{value:.{digits}f}%"


def compact_number(value: float | None) -> str:
    """1234 → 1.2k, 2500000 → 2.5M."""
    if value is None:
        return "–"
    number = float(value)
    for threshold, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= threshold:
            return f"{number / threshold:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{int(number)}" if number == int(number) else f"{number:.2f}"


def when(value: datetime | str | None) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM UTC``."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def score(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{float(value):.{digits}f}"


def make_environment(*template_dirs: Path | str, static_url: str = STATIC_URL) -> Environment:
    """App templates first (in order), then the shared ``base.html`` and ``macros.html``."""
    loader = ChoiceLoader([FileSystemLoader([str(d) for d in template_dirs]), FileSystemLoader(str(TEMPLATES_DIR))])
    env = Environment(
        loader=loader,
        autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml", "svg"), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(record_text=record_text, compact_number=compact_number, when=when, score=score)
    env.globals.update(ui_static=static_url, percent=percent)
    return env


def make_templates(*template_dirs: Path | str, static_url: str = STATIC_URL) -> Jinja2Templates:
    return Jinja2Templates(env=make_environment(*template_dirs, static_url=static_url))

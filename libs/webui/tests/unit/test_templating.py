from __future__ import annotations

from datetime import UTC, datetime

from claystream_webui import make_environment, percent, record_text
from claystream_webui.templating import compact_number, score, when
from markupsafe import Markup


def test_record_text_escapes_everything_then_restores_only_line_breaks() -> None:
    text = 'One<br /><br />Two<BR/>three <br> <script>alert(1)</script><img src=x onerror="x()">\nfour'
    assert record_text(text) == Markup(
        "One<br><br>Two<br>three <br> &lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&#34;x()&#34;&gt;<br>four"
    )


def test_record_text_does_not_unescape_a_pre_escaped_payload() -> None:
    assert record_text("&lt;script&gt;") == Markup("&amp;lt;script&amp;gt;")
    assert record_text("<br onclick=x()>") == Markup("&lt;br onclick=x()&gt;")
    assert record_text(None) == Markup("")


def test_small_filters() -> None:
    assert percent(1, 3) == "33%" and percent(5, 0) == "0%" and percent(None, 4) == "0%"
    assert compact_number(1234) == "1.2k" and compact_number(2_500_000) == "2.5M" and compact_number(12) == "12"
    assert score(0.9123) == "0.91" and score(None) == "–"
    assert when(datetime(2026, 1, 2, 3, 4, tzinfo=UTC)) == "2026-01-02 03:04 UTC" and when(None) == "–"


def test_environment_autoescapes_and_finds_the_shared_base(tmp_path) -> None:
    (tmp_path / "page.html").write_text('{% extends "base.html" %}{% block content %}<p>{{ value }}</p>{% endblock %}')
    html = make_environment(tmp_path).get_template("page.html").render(
        value="<b>bold</b>", csrf_token="tok<en", user={"username": "<i>u</i>", "role": "admin"}, logout_url="/logout"
    )
    assert "<p>&lt;b&gt;bold&lt;/b&gt;</p>" in html
    assert '<meta name="csrf-token" content="tok&lt;en">' in html
    assert "&lt;i&gt;u&lt;/i&gt;" in html and "<i>u</i>" not in html
    assert '<script src="/static/ui/vendor/htmx-2.0.11.min.js" defer></script>' in html
    assert "<script>" not in html  # no inline script anywhere in the layout


def test_chart_macro_puts_safe_json_in_a_single_quoted_attribute(tmp_path) -> None:
    (tmp_path / "c.html").write_text('{% import "macros.html" as ui %}{{ ui.chart(cfg, "Drift") }}')
    cfg = {"type": "bar", "data": {"labels": ["it's <b>"], "datasets": [{"data": [1]}]}}
    html = make_environment(tmp_path).get_template("c.html").render(cfg=cfg)
    attribute = html.split("data-chart='")[1].split("'")[0]
    assert "<" not in attribute and "\\u0027" in attribute and "\\u003cb\\u003e" in attribute
    assert 'aria-label="Drift"' in html

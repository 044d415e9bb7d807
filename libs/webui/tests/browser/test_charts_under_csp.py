"""Chart.js and claystream.js run under the strict CSP (no violations, the chart draws)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (/usr/bin/chromium)")]

PAGE = """{% extends "base.html" %}{% import "macros.html" as ui %}
{% block content %}<h1>Charts</h1>{{ ui.chart(cfg, "Traffic") }}{{ ui.progress(3, 4, "Done") }}{% endblock %}
{% block scripts %}<script src="{{ ui_static }}/vendor/chart-4.6.1.umd.min.js" defer></script>
<script src="{{ ui_static }}/js/charts.js" defer></script>{% endblock %}"""


async def test_chart_draws_without_csp_violations(tmp_path) -> None:
    pytest.importorskip("playwright")
    import uvicorn
    from claystream_devstack.processes import free_port
    from claystream_webui import SecurityHeadersMiddleware, make_templates, mount_static
    from playwright.async_api import async_playwright
    from starlette.applications import Starlette
    from starlette.routing import Route

    (tmp_path / "page.html").write_text(PAGE)
    templates = make_templates(tmp_path)
    config = {"type": "line", "data": {"labels": ["a", "b", "c"], "datasets": [{"label": "events", "data": [3, 1, 4]}]}}

    async def page(request):
        return templates.TemplateResponse(request, "page.html", {"cfg": config, "app_name": "Monitor"})

    app = Starlette(routes=[Route("/", page)])
    mount_static(app)
    app.add_middleware(SecurityHeadersMiddleware)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            tab = await browser.new_page()
            problems: list[str] = []
            tab.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            tab.on("pageerror", lambda e: problems.append(str(e)))
            await tab.goto(f"http://127.0.0.1:{port}/")
            await tab.wait_for_function("() => window.Chart && Chart.getChart(document.querySelector('canvas')) !== undefined")
            assert await tab.evaluate("() => Chart.getChart(document.querySelector('canvas')).data.datasets[0].data.length") == 3
            await browser.close()
        assert not problems, problems
    finally:
        server.should_exit = True
        thread.join(timeout=10)

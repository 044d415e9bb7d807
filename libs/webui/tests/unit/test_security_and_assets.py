from __future__ import annotations

import httpx
from claystream_webui import STATIC_DIR, SecurityHeadersMiddleware, mount_static
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def _hello(request) -> PlainTextResponse:
    return PlainTextResponse("hi", headers={"Referrer-Policy": "no-referrer"})


def _app() -> Starlette:
    app = Starlette(routes=[Route("/", _hello)])
    mount_static(app)
    mount_static(app)  # idempotent
    app.add_middleware(SecurityHeadersMiddleware)
    return app


async def test_every_response_gets_the_security_headers_without_overriding_its_own() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t") as client:
        page = await client.get("/")
        asset = await client.get("/static/ui/js/claystream.js")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"  # the handler's own value wins
    assert asset.status_code == 200 and "X-CSRF-Token" in asset.text
    assert asset.headers["x-content-type-options"] == "nosniff"


def test_vendored_assets_are_present_and_documented() -> None:
    vendor = STATIC_DIR / "vendor"
    notes = (vendor / "VENDORED.md").read_text()
    for name in ("htmx-2.0.11.min.js", "chart-4.6.1.umd.min.js"):
        assert (vendor / name).stat().st_size > 10_000
        assert name in notes
    assert (vendor / "htmx.LICENSE.txt").exists() and (vendor / "chart.js.LICENSE.txt").exists()
    assert "cdn" not in (STATIC_DIR.parent / "templates" / "base.html").read_text().lower()


async def test_api_docs_keep_their_inline_script_but_get_the_other_headers() -> None:
    app = Starlette(routes=[Route("/docs", _hello)])
    app.add_middleware(SecurityHeadersMiddleware)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        docs = await client.get("/docs")
    assert "content-security-policy" not in docs.headers and docs.headers["x-content-type-options"] == "nosniff"

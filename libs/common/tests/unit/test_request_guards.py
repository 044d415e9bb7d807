"""Body limits and operator-only routes (issue 17, finding 9 and the low "/metrics and /docs public")."""

from __future__ import annotations

import httpx
import pytest
from claystream_common.request_guards import BodyLimit, OperatorOnly
from claystream_common.settings import BaseAppSettings
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

TOKEN = "operator-service-token-0123456789"


class Items(BaseModel):
    texts: list[str]


def _app(**settings: object) -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.post("/login")
    async def login(request: Request) -> dict[str, int]:
        return {"fields": len(await request.form())}

    @app.post("/items")
    async def items(body: Items) -> dict[str, int]:
        return {"n": len(body.texts)}

    @app.get("/metrics")
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse("claystream_up 1\n")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    config = BaseAppSettings(service_token=TOKEN, **settings)  # type: ignore[arg-type]
    app.add_middleware(OperatorOnly, settings=config)
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes, per_path={"/login": 2048})
    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://guarded.test")


async def test_bodies_over_the_limit_get_413_declared_or_streamed() -> None:
    async with _client(_app(max_body_bytes=4096)) as client:
        assert (await client.post("/echo", content=b"x" * 4096)).json() == {"bytes": 4096}
        too_big = await client.post("/echo", content=b"x" * 5000)
        assert too_big.status_code == 413 and "body" in too_big.text

        async def chunks():  # no Content-Length: counted while streaming
            for _ in range(10):
                yield b"y" * 1000

        assert (await client.post("/echo", content=chunks())).status_code == 413

        async def small():
            yield b"a" * 1000
            yield b"b" * 1000

        assert (await client.post("/echo", content=small())).json() == {"bytes": 2000}  # under the limit: replayed whole
        # a route whose body FastAPI parses: the overflow used to surface as its 400 "error parsing the body"
        assert (await client.post("/items", content=chunks(), headers={"Content-Type": "application/json"})).status_code == 413

        async def items():
            yield b'{"texts": ['
            yield b'"a", "b"]}'

        assert (await client.post("/items", content=items(), headers={"Content-Type": "application/json"})).json() == {"n": 2}
        # the login form is limited before the form parser sees it
        assert (await client.post("/login", data={"username": "u", "password": "p" * 3000})).status_code == 413
        assert (await client.post("/login", data={"username": "u", "password": "p"})).json() == {"fields": 2}


@pytest.mark.parametrize("mode", ["production"])
async def test_metrics_and_docs_need_a_token_in_production(mode: str) -> None:
    app = _app(mode=mode, secret_key="s" * 40, metrics_token="scrape-token-0123456789")
    async with _client(app) as client:
        for path in ("/metrics", "/docs", "/openapi.json", "/redoc"):
            assert (await client.get(path)).status_code == 401, path
            assert (await client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 200, path
        assert (await client.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"})).status_code == 200
        assert (await client.get("/docs", headers={"Authorization": "Bearer scrape-token-0123456789"})).status_code == 401
        assert (await client.get("/healthz")).status_code == 200


async def test_settings_open_them_and_development_keeps_them_open() -> None:
    async with _client(_app(mode="production", secret_key="s" * 40, public_metrics=True, public_docs=True)) as client:
        assert (await client.get("/metrics")).status_code == 200 and (await client.get("/docs")).status_code == 200
    async with _client(_app()) as client:
        assert (await client.get("/metrics")).status_code == 200 and (await client.get("/openapi.json")).status_code == 200

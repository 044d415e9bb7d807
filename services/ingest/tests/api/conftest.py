from collections.abc import AsyncIterator

import httpx
import pytest

from claystream_ingest.main import create_app
from ingest_fakes import API_KEY, FakeRateLimiter, RecordingPublisher, fake_deps, fake_settings


class FakeApp:
    def __init__(self) -> None:
        self.publisher = RecordingPublisher()
        self.limiter = FakeRateLimiter()
        self.settings = fake_settings(max_body_bytes=64 * 1024, max_records_per_request=50,
                                      max_predictions_per_request=50)


@pytest.fixture
def fake() -> FakeApp:
    return FakeApp()


@pytest.fixture
async def client(fake: FakeApp) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(fake.settings, deps_builder=lambda s: fake_deps(s, publisher=fake.publisher, limiter=fake.limiter))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest", headers={"X-API-Key": API_KEY}) as c:
            yield c

"""Issue 17 finding 9 across the services: every service refuses oversized bodies (413), the trainer
refuses overlong predict texts (422 naming the field), annotate bounds its text search."""

from __future__ import annotations

import pytest
from authz_stack import DATASET, WORKSPACE, Stack

pytestmark = [pytest.mark.slow]
BIG = "x" * (3 * 1024 * 1024)  # past the 2 MiB default of annotate, trainer and monitor


async def test_every_service_refuses_oversized_bodies(stack: Stack) -> None:
    calls = {
        "annotate": f"/api/v1/workspaces/{WORKSPACE}/datasets/{DATASET}/responses:bulk",
        "trainer": f"/api/v1/models/{DATASET}/predict",
        "monitor": "/api/v1/models",
        "ingest": f"/api/v1/datasets/{DATASET}/records:bulk",
    }
    for service, url in calls.items():
        body = {"items": [{"fields": {"text": BIG}}] * (4 if service == "ingest" else 1)}  # ingest allows 10 MiB
        answer = await stack.call(service, "POST", url, "service", body)
        assert answer.status_code == 413, (service, answer.status_code, answer.text[:200])


async def test_predict_refuses_overlong_texts(stack: Stack) -> None:
    answer = await stack.call("trainer", "POST", f"/api/v1/models/{DATASET}/predict", "key_annotator", {"texts": ["ok", "y" * 20_001]})
    assert answer.status_code == 422 and "texts" in answer.text


async def test_search_refuses_an_overlong_query(stack: Stack) -> None:
    url = f"/api/v1/workspaces/{WORKSPACE}/datasets/{DATASET}/records?q={'z' * 201}"
    answer = await stack.call("annotate", "GET", url, "annotator")
    assert answer.status_code == 422 and '"q"' in answer.text

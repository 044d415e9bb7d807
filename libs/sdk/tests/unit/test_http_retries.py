"""The SDK's HTTP helper on scripted transport answers: retries of 429 (Retry-After), 502/503/504 and
connection errors.  (What the services answer is tested against the real services in ../integration.)"""

from __future__ import annotations

import httpx
import pytest

from claystream._http import RetryingJson
from claystream.errors import ApiError, ClaystreamError, Conflict, NotFound, ValidationFailed, error_for


def helper(answers: list[httpx.Response | Exception], sleeps: list[float], retries: int = 6) -> tuple[RetryingJson, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        given = answers.pop(0)
        if isinstance(given, Exception):
            raise given
        return given

    client = httpx.Client(base_url="http://svc", transport=httpx.MockTransport(answer))
    return RetryingJson(client, max_retries=retries, backoff_s=0.5, sleep=sleeps.append), seen


def test_429_and_503_are_retried_honouring_retry_after() -> None:
    sleeps: list[float] = []
    http, seen = helper([httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(503),
                         httpx.ConnectError("refused"), httpx.Response(202, json={"ok": True})], sleeps)
    assert http.request("POST", "/x", body={"items": [1]}).status_code == 202
    assert len(seen) == 4 and sleeps[0] == 2.0 and 0.5 <= sleeps[1] <= 1.0 and 1.0 <= sleeps[2] <= 2.0
    assert seen[0].content == seen[3].content  # the same batch is re-sent


def test_retries_give_up_with_the_last_answer_or_a_connection_error() -> None:
    sleeps: list[float] = []
    http, seen = helper([httpx.Response(503)] * 3, sleeps, retries=2)
    assert http.request("GET", "/x").status_code == 503 and len(seen) == 3
    http, _ = helper([httpx.ConnectError("refused")] * 3, sleeps, retries=2)
    with pytest.raises(ApiError, match="cannot reach"):
        http.request("GET", "/x")


def test_error_answers_become_typed_errors() -> None:
    assert isinstance(error_for(404, {"detail": "no"}), NotFound)
    assert isinstance(error_for(409, {"detail": "taken"}), Conflict)
    failed = error_for(422, {"detail": [{"loc": ["body", "name"], "msg": "bad", "field": "name"}]})
    assert isinstance(failed, ValidationFailed) and failed.errors == [{"index": None, "field": "name", "reason": "bad"}]
    assert isinstance(failed, ClaystreamError)

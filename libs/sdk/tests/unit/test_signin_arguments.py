"""Which credentials a Client takes (checked before any request: no server needed)."""

from __future__ import annotations

import pytest
from claystream import ClaystreamError, Client


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ({"url": "http://ingest", "api_key": "cs_x", "annotate_url": "http://a", "username": "u", "password": "p"}, "either api_key"),
        ({"url": "http://ingest"}, "either api_key"),
        ({"annotate_url": "http://a", "username": "u"}, "username, password and annotate_url"),
        ({"username": "u", "password": "p"}, "username, password and annotate_url"),
        ({"url": "http://ingest", "annotate_url": "http://a", "username": "u", "password": "p"}, "ingest takes API keys only"),
        ({"api_key": "cs_x"}, "url"),
    ],
)
def test_a_client_takes_an_api_key_or_a_sign_in_never_both(arguments: dict[str, str], reason: str) -> None:
    with pytest.raises(ClaystreamError, match=reason):
        Client(**arguments)  # type: ignore[arg-type]


def test_a_client_with_an_api_key_has_no_session_to_end() -> None:
    with Client("http://ingest.invalid", "cs_x") as keyed:
        assert keyed.user is None
        with pytest.raises(ClaystreamError, match="not signed in"):
            keyed.logout()

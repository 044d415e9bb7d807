from __future__ import annotations

from claystream_common.web_sessions import SESSION_COOKIE, SessionCodec, cookie_options, csrf_matches, requires_csrf


def test_round_trip_and_tampering() -> None:
    codec = SessionCodec("k" * 32)
    session = codec.new_session("user-1", epoch=3)
    value = codec.encode(session)
    assert codec.decode(value) == session
    assert codec.decode(value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]) is None
    assert codec.decode(None) is None and codec.decode("garbage") is None
    assert SessionCodec("x" * 32).decode(value) is None, "another secret cannot read it"


def test_expiry() -> None:
    codec = SessionCodec("k" * 32, max_age_s=-1)
    assert codec.decode(codec.encode(codec.new_session("u"))) is None


def test_csrf_and_cookie_flags() -> None:
    assert csrf_matches("abc", "abc") and not csrf_matches("abc", "abd") and not csrf_matches("abc", None)
    assert not csrf_matches(None, None)
    assert requires_csrf("POST") and requires_csrf("delete") and not requires_csrf("GET")
    options = cookie_options(secure=True, max_age_s=60)
    assert options["key"] == SESSION_COOKIE and options["httponly"] and options["samesite"] == "lax" and options["secure"]

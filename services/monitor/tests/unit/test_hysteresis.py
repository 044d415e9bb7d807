from __future__ import annotations

import pytest
from claystream_monitor.drift.hysteresis import AlertState, HysteresisPolicy, Transition


def feed(state: AlertState, pattern: str) -> list[Transition | None]:
    """'B' = breached (p=0.0001), 'g' = grey zone (not breached, p=0.02), 'c' = clean (p=0.5)."""
    p_values = {"B": 0.0001, "g": 0.02, "c": 0.5}
    return [state.update(breached=ch == "B", p_value=p_values[ch]) for ch in pattern]


def test_a_single_breach_does_not_alert() -> None:
    state = AlertState(HysteresisPolicy(raise_after=2, clear_after=3, clear_alpha=0.05))
    assert feed(state, "cBcBcBc") == [None] * 7
    assert not state.alerting


def test_consecutive_breaches_alert_once() -> None:
    state = AlertState(HysteresisPolicy(raise_after=2, clear_after=3))
    assert feed(state, "cBBBB") == [None, None, Transition.DETECTED, None, None]
    assert state.alerting


def test_resolution_needs_consecutive_clean_windows_and_grey_zone_does_not_count() -> None:
    state = AlertState(HysteresisPolicy(raise_after=2, clear_after=3, clear_alpha=0.05))
    feed(state, "BB")
    assert feed(state, "ccgcc") == [None] * 5  # the grey window breaks the clean streak
    assert state.alerting
    assert feed(state, "c") == [Transition.RESOLVED]
    assert not state.alerting
    assert feed(state, "BB")[-1] is Transition.DETECTED  # and it can alert again


def test_state_round_trips() -> None:
    policy = HysteresisPolicy()
    state = AlertState(policy)
    feed(state, "BBc")
    restored = AlertState.from_dict(policy, state.as_dict())
    assert restored == state


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        HysteresisPolicy(raise_after=0)

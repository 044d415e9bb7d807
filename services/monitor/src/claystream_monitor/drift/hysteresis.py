"""Alert state with hysteresis: a check must breach ``raise_after`` evaluations in a row to alert,
and look clean (p-value above the looser ``clear_alpha``) ``clear_after`` evaluations in a row to resolve."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Transition(StrEnum):
    DETECTED = "detected"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class HysteresisPolicy:
    raise_after: int = 2
    clear_after: int = 3
    clear_alpha: float = 0.05

    def __post_init__(self) -> None:
        if self.raise_after < 1 or self.clear_after < 1:
            raise ValueError("raise_after and clear_after must be at least 1")


@dataclass(slots=True)
class AlertState:
    policy: HysteresisPolicy
    alerting: bool = False
    breach_streak: int = 0
    clean_streak: int = 0

    def update(self, *, breached: bool, p_value: float | None) -> Transition | None:
        """Feed one evaluation; returns the transition it caused, if any."""
        clean = not breached and (p_value is None or p_value >= self.policy.clear_alpha)
        self.breach_streak = self.breach_streak + 1 if breached else 0
        self.clean_streak = self.clean_streak + 1 if clean else 0
        if not self.alerting and self.breach_streak >= self.policy.raise_after:
            self.alerting = True
            self.clean_streak = 0
            return Transition.DETECTED
        if self.alerting and self.clean_streak >= self.policy.clear_after:
            self.alerting = False
            self.breach_streak = 0
            return Transition.RESOLVED
        return None

    def as_dict(self) -> dict[str, int | bool]:
        return {"alerting": self.alerting, "breach_streak": self.breach_streak, "clean_streak": self.clean_streak}

    @classmethod
    def from_dict(cls, policy: HysteresisPolicy, data: dict[str, int | bool]) -> AlertState:
        return cls(policy, bool(data.get("alerting")), int(data.get("breach_streak", 0)), int(data.get("clean_streak", 0)))

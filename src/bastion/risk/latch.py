"""The halt latch: ACTIVE, REDUCING (only exposure-cutting orders) or HALTED
(only cancels and closing orders). It only moves by explicit command; the
state store persists it so a bot that stopped halted starts halted."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class HaltState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


@dataclass(slots=True)
class HaltLatch:
    state: HaltState = HaltState.ACTIVE
    reason: str = ""
    since_ts: int = 0
    by: str = ""

    def set(self, state: HaltState, *, reason: str, now: int, by: str = "bot") -> bool:
        """Move the latch; returns True if it changed."""
        if state is self.state:
            return False
        self.state, self.reason, self.since_ts, self.by = state, reason, now, by
        return True

    @property
    def allows_new_exposure(self) -> bool:
        return self.state is HaltState.ACTIVE

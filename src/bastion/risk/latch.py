"""The halt latch: ACTIVE, REDUCING (only exposure-cutting orders) or HALTED
(only cancels and closing orders). It only moves by explicit command; the
state store persists it so a bot that stopped halted starts halted.

The latch performs no I/O itself: the shell subscribes a listener (the state
store's ``save_latch``) that is told of every change, synchronously, before
``set`` returns, so a change is on disk before the next order can be sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class HaltState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class LatchRecord(Protocol):
    """What a persisted latch looks like (``bastion.state.store.LatchRow``)."""

    @property
    def state(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def since_ts(self) -> int: ...
    @property
    def by(self) -> str: ...


LatchListener = Callable[["HaltLatch", HaltState], None]  # (latch, previous state)


@dataclass(slots=True)
class HaltLatch:
    state: HaltState = HaltState.ACTIVE
    reason: str = ""
    since_ts: int = 0
    by: str = ""
    _listeners: list[LatchListener] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def restore(cls, record: LatchRecord | None) -> HaltLatch:
        """A latch as it was persisted; ACTIVE when nothing was. An unknown
        persisted state is refused loudly rather than read as ACTIVE."""
        if record is None:
            return cls()
        return cls(
            state=HaltState(record.state),
            reason=record.reason,
            since_ts=record.since_ts,
            by=record.by,
        )

    def subscribe(self, listener: LatchListener) -> None:
        """Call ``listener(latch, previous)`` after every change."""
        self._listeners.append(listener)

    def set(self, state: HaltState, *, reason: str, now: int, by: str = "bot") -> bool:
        """Move the latch; returns True if it changed."""
        if state is self.state:
            return False
        previous = self.state
        self.state, self.reason, self.since_ts, self.by = state, reason, now, by
        for listener in self._listeners:
            listener(self, previous)
        return True

    @property
    def allows_new_exposure(self) -> bool:
        return self.state is HaltState.ACTIVE

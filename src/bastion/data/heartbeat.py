"""A heartbeat per feed: when it last delivered, and since when it has been healthy.

A WebSocket can stay open while the exchange stops sending, so "connected"
says nothing; only data arriving does. A feed is *stalled* once nothing has
come for ``stall_ms``; it is *healthy since* the first beat after its last
stall, which is what fail-back waits on (a feed that flaps is never healthy
for long). Sans-I/O: the caller passes ``now`` (ms) to every call.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Heartbeat:
    name: str
    stall_ms: int
    started_ms: int = 0  # a feed that has never delivered is stalled this long after start
    last_ms: int | None = None  # when data last arrived (None: never)
    healthy_since: int | None = None  # first beat of the current healthy run
    beats: int = 0

    def __post_init__(self) -> None:
        if self.stall_ms <= 0:
            raise ValueError(f"feed {self.name}: stall threshold must be positive")

    def beat(self, now: int) -> None:
        """Data arrived at ``now``."""
        if self.last_ms is None or self.healthy_since is None or self.stalled(now):
            self.healthy_since = now
        self.last_ms = now if self.last_ms is None else max(self.last_ms, now)
        self.beats += 1

    def stalled(self, now: int) -> bool:
        """Nothing for longer than the threshold (since start, if nothing yet)."""
        ref = self.started_ms if self.last_ms is None else self.last_ms
        return now - ref > self.stall_ms

    def live(self, now: int) -> bool:
        """Has delivered, and recently: the only kind of feed worth switching to."""
        return self.last_ms is not None and not self.stalled(now)

    def healthy_for(self, now: int) -> int:
        """How long the feed has delivered without a stall (0 when stalled)."""
        if not self.live(now) or self.healthy_since is None:
            return 0
        return now - self.healthy_since

    def silent_ms(self, now: int) -> int | None:
        return None if self.last_ms is None else now - self.last_ms

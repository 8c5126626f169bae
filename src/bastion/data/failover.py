"""Which of a symbol's feeds to believe: failover and fail-back as a state machine.

Feeds are listed in order of preference (the WebSocket first, then REST
polling or another exchange). The machine holds one *active* feed, or none
when every feed is stalled (the symbol then gets no data and the data gate
marks it stale: not tradable). Transitions, all decided in ``tick``:

- the active feed stalls → the most preferred feed that is not stalled
  (``FAILOVER``), or none at all (``ALL_STALLED``);
- no active feed and one beats again → the most preferred live one
  (``RECOVERED``): any data beats no data, so this does not wait;
- a feed preferred to the active one has been healthy for ``failback_ms``
  → back to it (``FAILBACK``). Waiting keeps a flapping primary from
  dragging the bot back and forth.

The caller may veto taking a feed (``can_take``): the bar seam is only
exact once the new feed has a complete bar in hand, which the selector
knows and the machine does not. Sans-I/O: beats and ticks carry ``now``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bastion.data.heartbeat import Heartbeat


class SwitchReason(StrEnum):
    FAILOVER = "FAILOVER"
    FAILBACK = "FAILBACK"
    RECOVERED = "RECOVERED"
    ALL_STALLED = "ALL_STALLED"


@dataclass(frozen=True, slots=True)
class FeedSwitched:
    """The machine moved from one feed to another (None: no feed)."""

    at: int
    from_feed: str | None
    to_feed: str | None
    reason: SwitchReason


def _always(_: str) -> bool:
    return True


class FailoverMachine:
    def __init__(self, heartbeats: Sequence[Heartbeat], *, failback_ms: int) -> None:
        if not heartbeats:
            raise ValueError("a symbol needs at least one feed")
        names = [h.name for h in heartbeats]
        if len(set(names)) != len(names):
            raise ValueError(f"feed names must be unique, got {names}")
        if failback_ms < 0:
            raise ValueError("failback_ms must not be negative")
        self.heartbeats = tuple(heartbeats)
        self._by_name = {h.name: h for h in heartbeats}
        self._rank = {h.name: i for i, h in enumerate(heartbeats)}
        self.failback_ms = failback_ms
        self.active: str | None = heartbeats[0].name  # the primary until it proves otherwise
        self.switches: list[FeedSwitched] = []

    def beat(self, feed: str, now: int) -> None:
        self._by_name[feed].beat(now)

    def heartbeat(self, feed: str) -> Heartbeat:
        return self._by_name[feed]

    def tick(self, now: int, can_take: Callable[[str], bool] = _always) -> FeedSwitched | None:
        """Decide at ``now``; returns the switch made, if any (at most one per tick)."""
        active = self.active
        if active is not None and self._by_name[active].stalled(now):
            nxt = self._best(now, can_take)
            reason = SwitchReason.FAILOVER if nxt is not None else SwitchReason.ALL_STALLED
            return self._switch(now, nxt, reason)
        if active is None:
            nxt = self._best(now, can_take)
            return self._switch(now, nxt, SwitchReason.RECOVERED) if nxt is not None else None
        for hb in self.heartbeats[: self._rank[active]]:
            if hb.healthy_for(now) >= self.failback_ms and can_take(hb.name):
                return self._switch(now, hb.name, SwitchReason.FAILBACK)
        return None

    def _best(self, now: int, can_take: Callable[[str], bool]) -> str | None:
        for hb in self.heartbeats:
            if hb.live(now) and can_take(hb.name):
                return hb.name
        return None

    def _switch(self, now: int, to: str | None, reason: SwitchReason) -> FeedSwitched:
        ev = FeedSwitched(now, self.active, to, reason)
        self.active = to
        self.switches.append(ev)
        return ev

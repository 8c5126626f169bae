"""One symbol's bars from several feeds, switching between them without a seam.

Every feed in the list runs all the time (a warm standby) and builds its own
bars from its own trades; the selector hands on only the active feed's bars,
and only bars later than the last one it handed on (``cursor``). So a switch
cannot double a bar (the cursor) and cannot drop one (the new feed has been
building the same bars all along). Two more rules make the seam exact:

- a feed is taken only once it holds every bar after the cursor complete:
  after a stall, the first bar it saw was joined part-way, so the feed is
  complete from the next bar on (``complete_from``);
- with a standby, a *stream* feed's bar is closed by the next trade, never by
  the clock: a stream that has silently stalled mid-bar would otherwise close
  a bar short of trades before the stall is even noticed. A *poll* feed closes
  a bar when a poll that started after the bar's end (plus ``grace_ms``) has
  answered: that poll has seen every trade of it. On a quiet market this holds
  a bar back until the next trade or until the fallback carries it.

With a single feed nothing changes: the stream's bars close on the clock as
they always did. Each switch, each feed that stalls or comes back, and "no
feed left" are journaled as alerts; with no feed left no bars flow and the
data gate marks the symbol stale (not tradable). Sans-I/O: ``now`` comes in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bastion.data.bar_builder import BarBuilder
from bastion.data.failover import FailoverMachine, FeedSwitched, SwitchReason
from bastion.data.heartbeat import Heartbeat
from bastion.model import Bar

Sink = Callable[[str, int, dict[str, Any]], None]
FeedKind = Literal["stream", "poll"]


@dataclass(frozen=True, slots=True)
class FeedSpec:
    name: str
    kind: FeedKind
    stall_ms: int
    source: str = ""  # where it comes from, for the journal ("binance ws", "binance rest")


class FeedSelector:
    def __init__(
        self,
        symbol: str,
        interval_ms: int,
        feeds: Sequence[FeedSpec],
        sink: Sink,
        *,
        failback_ms: int,
        start_ms: int,
        grace_ms: int = 250,
    ) -> None:
        self.symbol = symbol
        self.interval_ms = interval_ms
        self.grace_ms = grace_ms
        self.feeds = {f.name: f for f in feeds}
        self._sink = sink
        self.machine = FailoverMachine(
            [Heartbeat(f.name, f.stall_ms, started_ms=start_ms) for f in feeds],
            failback_ms=failback_ms,
        )
        self._builders = {
            f.name: BarBuilder(symbol, interval_ms, self._tagged(f.name), grace_ms=grace_ms)
            for f in feeds
        }
        self._closed: dict[str, deque[Bar]] = {f.name: deque(maxlen=256) for f in feeds}
        self._complete_from: dict[str, int | None] = dict.fromkeys(self.feeds)
        self._run_open: dict[str, bool] = dict.fromkeys(self.feeds, False)
        self._reported_stalled: set[str] = set()
        self.cursor = -1  # open time of the last bar handed on
        self.emitted: dict[str, int] = dict.fromkeys(self.feeds, 0)

    @property
    def active(self) -> str | None:
        return self.machine.active

    @property
    def standby(self) -> bool:
        return len(self.feeds) > 1

    # ----------------------------------------------------------------- input
    def on_trade(
        self, feed: str, trade_id: str, ts: int, price: float, qty: float, now: int
    ) -> list[Bar]:
        """A trade from ``feed``, received at ``now``; returns bars to hand on."""
        self._beat(feed, now, ts)
        closed = self._builders[feed].on_trade(trade_id, ts, price, qty)
        if closed:
            self._closed[feed].extend(closed)
        return self._emit()

    def on_poll(self, feed: str, asked_at: int, now: int) -> list[Bar]:
        """A poll of ``feed`` sent at ``asked_at`` has answered (its trades already
        given to ``on_trade``): every bar that ended before then is complete."""
        self._beat(feed, now, None)
        closed = self._builders[feed].on_clock(asked_at)
        if closed:
            self._closed[feed].extend(closed)
        return self._emit()

    def on_clock(self, now: int) -> list[Bar]:
        """Heartbeats, switches, and (single feed only) bars closed by the clock."""
        self._report_stalls(now)
        switch = self.machine.tick(now, lambda feed: self._can_take(feed, now))
        if switch is not None:
            self._journal_switch(switch)
        if not self.standby:
            name = next(iter(self.feeds))
            self._closed[name].extend(self._builders[name].on_clock(now))
        return self._emit()

    # --------------------------------------------------------------- helpers
    def _beat(self, feed: str, now: int, trade_ts: int | None) -> None:
        hb = self.machine.heartbeat(feed)
        if hb.stalled(now) or hb.last_ms is None:
            self._run_open[feed] = True  # a new healthy run: completeness starts over
            self._complete_from[feed] = None
        hb.beat(now)
        if self._run_open[feed] and trade_ts is not None:
            self._run_open[feed] = False
            start = trade_ts - trade_ts % self.interval_ms
            self._complete_from[feed] = start + self.interval_ms

    def _can_take(self, feed: str, now: int) -> bool:
        """Fail back only across an exact seam; fail over to any feed with a
        complete bar coming (bars it missed are a gap, journaled by the gate,
        which is honest; a partial bar would not be)."""
        if not self.standby:
            return True
        start = self._complete_from[feed]
        if start is None:
            return False
        active = self.machine.active
        if active is None or self.machine.heartbeat(active).stalled(now):
            return True
        return self.cursor < 0 or start <= self.cursor + self.interval_ms

    def _emit(self) -> list[Bar]:
        active = self.machine.active
        if active is None:
            return []
        queue = self._closed[active]
        out: list[Bar] = []
        # with a standby, a bar the feed joined part-way is never handed on
        floor = max(self.cursor + 1, (self._complete_from[active] or 0) if self.standby else 0)
        while queue:
            bar = queue.popleft()
            if bar.ts >= floor:
                out.append(bar)
                self.cursor = bar.ts
        if out:
            self.emitted[active] += len(out)
        return out

    def _tagged(self, feed: str) -> Sink:
        def sink(kind: str, ts: int, payload: dict[str, Any]) -> None:
            self._sink(kind, ts, {**payload, "feed": feed})

        return sink

    def _report_stalls(self, now: int) -> None:
        for hb in self.machine.heartbeats:
            stalled = hb.stalled(now)
            if stalled and hb.name not in self._reported_stalled:
                self._reported_stalled.add(hb.name)
                self._sink(
                    "feed_stalled",
                    now,
                    {
                        "symbol": self.symbol,
                        "feed": hb.name,
                        "source": self.feeds[hb.name].source,
                        "silent_ms": hb.silent_ms(now),
                        "threshold_ms": hb.stall_ms,
                        "alert": True,
                    },
                )
            elif not stalled and hb.name in self._reported_stalled:
                self._reported_stalled.discard(hb.name)
                self._sink("feed_healthy", now, {"symbol": self.symbol, "feed": hb.name})

    def _journal_switch(self, ev: FeedSwitched) -> None:
        kind = "feeds_down" if ev.reason is SwitchReason.ALL_STALLED else "feed_switched"
        self._sink(
            kind,
            ev.at,
            {
                "symbol": self.symbol,
                "from": ev.from_feed,
                "to": ev.to_feed,
                "reason": ev.reason.value,
                "last_bar": self.cursor,
                "alert": True,
            },
        )

"""Bars from a live trade stream: sans-I/O, one symbol at a time.

Trades are deduped by id (feeds resend after reconnects, and some duplicate
on purpose). A bar closes as soon as a trade for a later interval arrives (or
the clock passes its end plus ``grace_ms``), so a decision never waits for a
slow tick. Streams are not perfectly ordered, though: a trade may arrive a
moment after a later one. The *reorder window* is how far behind the newest
trade seen (exchange time) a trade may be and still count:

- inside the window, a trade for a bar already closed **amends** that bar;
  the correction is journaled (``bar_corrected``, with the bar before and
  after) and handed to ``on_correction`` (the data gate re-applies its newest
  bar, the recorder keeps both);
- beyond it, the trade is journaled as ``late_trade`` and the bar stays as it
  was.

Within a bar, open and close are the first and last trades by (exchange time,
trade id), not by arrival, so a stream replayed with its trades shuffled
inside the window gives the same bars. An interval with no trades produces no
bar: a gap is no data, never a flat bar.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bastion.model import Bar

Sink = Callable[[str, int, dict[str, Any]], None]
OnCorrection = Callable[[Bar | None, Bar], None]


def _id_key(trade_id: str) -> tuple[int, str]:
    """Order of two trades with the same timestamp: by (length, text), which for
    numeric ids (no leading zeros) is their numeric order, and for any other ids
    a fixed total order, so the result never depends on arrival."""
    return (len(trade_id), trade_id)


@dataclass(slots=True)
class _Open:
    start: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    open_ts: int
    open_id: str
    close_ts: int
    close_id: str

    def fold(self, trade_id: str, ts: int, price: float, qty: float) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.volume += qty
        if ts > self.close_ts or (
            ts == self.close_ts and _id_key(trade_id) > _id_key(self.close_id)
        ):
            self.close, self.close_ts, self.close_id = price, ts, trade_id
        if ts < self.open_ts or (ts == self.open_ts and _id_key(trade_id) < _id_key(self.open_id)):
            self.open, self.open_ts, self.open_id = price, ts, trade_id

    def bar(self, symbol: str, interval_ms: int) -> Bar:
        return Bar(
            symbol=symbol,
            ts=self.start,
            interval_ms=interval_ms,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=self.volume,
        )


def _new(start: int, trade_id: str, ts: int, price: float, qty: float) -> _Open:
    return _Open(start, price, price, price, price, qty, ts, trade_id, ts, trade_id)


def bar_dict(bar: Bar | None) -> dict[str, Any] | None:
    """A bar as a journal payload."""
    if bar is None:
        return None
    return {
        "ts": bar.ts,
        "open": bar.open,
        "high": bar.high,
        "low": bar.low,
        "close": bar.close,
        "volume": bar.volume,
    }


class BarBuilder:
    def __init__(
        self,
        symbol: str,
        interval_ms: int,
        sink: Sink,
        *,
        grace_ms: int = 250,
        reorder_ms: int = 2_000,
        remember_ids: int = 10_000,
        on_correction: OnCorrection | None = None,
    ) -> None:
        if reorder_ms < 0:
            raise ValueError(f"reorder_ms must be >= 0, got {reorder_ms}")
        self.symbol = symbol
        self.interval_ms = interval_ms
        self.grace_ms = grace_ms
        self.reorder_ms = reorder_ms
        self._sink = sink
        self.on_correction = on_correction
        self._bar: _Open | None = None
        self._closed_until = 0  # trades before this belong to bars already emitted
        self._recent: deque[_Open] = deque()  # closed bars still inside the window
        self._ids: set[str] = set()
        self._old_ids: set[str] = set()
        self._remember = remember_ids
        self.duplicates = 0
        self.late = 0
        self.corrections = 0
        self.last_trade_ts = 0  # the watermark: newest exchange time seen

    def on_trade(self, trade_id: str, ts: int, price: float, qty: float) -> list[Bar]:
        """Fold one trade in; returns the bars it closed."""
        if trade_id in self._ids or trade_id in self._old_ids:
            self.duplicates += 1
            return []
        ids = self._ids
        ids.add(trade_id)
        if len(ids) >= self._remember:  # two generations: the last N to 2N ids remembered
            self._old_ids, self._ids = ids, set()
        if ts < self._closed_until:
            self._late(trade_id, ts, price, qty)
            return []
        self.last_trade_ts = max(self.last_trade_ts, ts)
        start = ts - ts % self.interval_ms
        out: list[Bar] = []
        bar = self._bar
        if bar is not None and start != bar.start:
            if start < bar.start:  # an empty interval before the open bar, filled late
                self._late(trade_id, ts, price, qty)
                return out
            out.append(self._close())
            bar = None
        if bar is None:
            self._bar = _new(start, trade_id, ts, price, qty)
            return out
        cts = bar.close_ts
        if ts > cts or (  # the in-order fast path
            ts == cts and (len(trade_id), trade_id) > (len(bar.close_id), bar.close_id)
        ):
            if price > bar.high:
                bar.high = price
            elif price < bar.low:
                bar.low = price
            bar.close, bar.close_ts, bar.close_id = price, ts, trade_id
            bar.volume += qty
            return out
        bar.fold(trade_id, ts, price, qty)
        return out

    def on_clock(self, now: int) -> list[Bar]:
        """Close the open bar once its interval (plus grace) is over."""
        bar = self._bar
        if bar is not None and now >= bar.start + self.interval_ms + self.grace_ms:
            return [self._close()]
        return []

    def _late(self, trade_id: str, ts: int, price: float, qty: float) -> None:
        """A trade for an interval already closed: amend inside the window, else report."""
        if self.last_trade_ts - ts > self.reorder_ms:
            self.late += 1
            self._sink(
                "late_trade",
                ts,
                {
                    "symbol": self.symbol,
                    "trade_id": trade_id,
                    "closed_until": self._closed_until,
                    "behind_ms": self.last_trade_ts - ts,
                    "reorder_ms": self.reorder_ms,
                },
            )
            return
        start = ts - ts % self.interval_ms
        target = next((b for b in self._recent if b.start == start), None)
        if target is None:  # the interval had no bar yet: this trade opens one, in the past
            before = None
            target = _new(start, trade_id, ts, price, qty)
            self._recent.append(target)
            self._recent = deque(sorted(self._recent, key=lambda b: b.start))
        else:
            before = target.bar(self.symbol, self.interval_ms)
            target.fold(trade_id, ts, price, qty)
        after = target.bar(self.symbol, self.interval_ms)
        self.corrections += 1
        self._sink(
            "bar_corrected",
            ts,
            {
                "symbol": self.symbol,
                "trade_id": trade_id,
                "before": bar_dict(before),
                "after": bar_dict(after),
            },
        )
        if self.on_correction is not None:
            self.on_correction(before, after)

    def _close(self) -> Bar:
        bar = self._bar
        assert bar is not None
        self._bar = None
        self._closed_until = bar.start + self.interval_ms
        recent = self._recent
        recent.append(bar)
        horizon = self.last_trade_ts - self.reorder_ms
        while recent and recent[0].start + self.interval_ms <= horizon:
            recent.popleft()
        return bar.bar(self.symbol, self.interval_ms)

"""Bars from a live trade stream: sans-I/O, one symbol at a time.

Trades are deduped by id (feeds resend after reconnects, and some duplicate
on purpose); a trade for a bar that already closed is *late*: it is reported,
not folded into history that the strategy has already acted on. A bar closes
when a trade for a later interval arrives or when the clock passes its end
plus ``grace_ms``. An interval with no trades produces no bar: a gap is no
data, never a flat bar.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bastion.model import Bar

Sink = Callable[[str, int, dict[str, Any]], None]


@dataclass(slots=True)
class _Open:
    start: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class BarBuilder:
    def __init__(
        self,
        symbol: str,
        interval_ms: int,
        sink: Sink,
        *,
        grace_ms: int = 250,
        remember_ids: int = 10_000,
    ) -> None:
        self.symbol = symbol
        self.interval_ms = interval_ms
        self.grace_ms = grace_ms
        self._sink = sink
        self._bar: _Open | None = None
        self._closed_until = 0  # trades before this belong to bars already emitted
        self._ids: set[str] = set()
        self._order: deque[str] = deque()
        self._remember = remember_ids
        self.duplicates = 0
        self.late = 0
        self.last_trade_ts = 0

    def on_trade(self, trade_id: str, ts: int, price: float, qty: float) -> list[Bar]:
        """Fold one trade in; returns the bars it closed."""
        if trade_id in self._ids:
            self.duplicates += 1
            return []
        self._remember_id(trade_id)
        if ts < self._closed_until:
            self.late += 1
            self._sink(
                "late_trade",
                ts,
                {"symbol": self.symbol, "trade_id": trade_id, "closed_until": self._closed_until},
            )
            return []
        self.last_trade_ts = max(self.last_trade_ts, ts)
        start = ts - ts % self.interval_ms
        out: list[Bar] = []
        bar = self._bar
        if bar is not None and start > bar.start:
            out.append(self._close())
            bar = None
        if bar is None:
            self._bar = _Open(start, price, price, price, price, qty)
            return out
        bar.high = max(bar.high, price)
        bar.low = min(bar.low, price)
        bar.close = price
        bar.volume += qty
        return out

    def on_clock(self, now: int) -> list[Bar]:
        """Close the open bar once its interval (plus grace) is over."""
        bar = self._bar
        if bar is not None and now >= bar.start + self.interval_ms + self.grace_ms:
            return [self._close()]
        return []

    def _close(self) -> Bar:
        bar = self._bar
        assert bar is not None
        self._bar = None
        self._closed_until = bar.start + self.interval_ms
        return Bar(
            symbol=self.symbol,
            ts=bar.start,
            interval_ms=self.interval_ms,
            open=bar.open,
            high=bar.high,
            low=bar.low,
            close=bar.close,
            volume=bar.volume,
        )

    def _remember_id(self, trade_id: str) -> None:
        self._ids.add(trade_id)
        self._order.append(trade_id)
        if len(self._order) > self._remember:
            self._ids.discard(self._order.popleft())

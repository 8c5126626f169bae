"""The prices the order desk's rules are checked against.

Binance checks orders against three prices: the best bid and ask (a limit
maker that would take; the quantity a quote-sized market order buys), the
last trade (whether a stop would trigger on arrival), and the average price
over ``AVG_PRICE_MINS`` (PERCENT_PRICE_BY_SIDE, ``GET /api/v3/avgPrice``).
``PriceBook`` keeps them per exchange symbol, fed by the market events.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from bastion.emulator import binance_format as fmt
from bastion.model import Side
from bastion.model.money import ZERO

_AVG_WINDOW_MS = fmt.AVG_PRICE_MINS * 60_000


class PriceBook:
    def __init__(self) -> None:
        self._quotes: dict[str, tuple[Decimal, Decimal]] = {}
        self._last: dict[str, Decimal] = {}
        self._recent: dict[str, deque[tuple[int, Decimal, Decimal]]] = {}

    def on_trade(self, sym: str, price: Decimal, qty: Decimal, now_ms: int) -> None:
        self._last[sym] = price
        recent = self._recent.setdefault(sym, deque())
        recent.append((now_ms, price, qty))
        while recent and recent[0][0] < now_ms - _AVG_WINDOW_MS:
            recent.popleft()

    def on_quote(self, sym: str, bid: Decimal, ask: Decimal) -> None:
        self._quotes[sym] = (bid, ask)

    def last(self, sym: str) -> Decimal | None:
        return self._last.get(sym)

    def quote(self, sym: str) -> tuple[Decimal, Decimal] | None:
        return self._quotes.get(sym)

    def reference(self, sym: str, side: Side) -> Decimal | None:
        """What an order of ``side`` would trade at now: the far touch, else the last trade."""
        q = self._quotes.get(sym)
        if q is not None:
            return q[1] if side is Side.BUY else q[0]
        return self._last.get(sym)

    def average(self, sym: str, now_ms: int) -> Decimal | None:
        """Binance's ``avgPrice``: volume-weighted over the last five minutes of
        trades; the last trade (or the mid) when the window is empty."""
        rows = [r for r in self._recent.get(sym, ()) if r[0] >= now_ms - _AVG_WINDOW_MS]
        volume = sum((q for _, _, q in rows), ZERO)
        if volume > 0:
            return sum((p * q for _, p, q in rows), ZERO) / volume
        if sym in self._last:
            return self._last[sym]
        q = self._quotes.get(sym)
        return (q[0] + q[1]) / 2 if q is not None else None

    def within_percent(self, sym: str, side: Side, price: Decimal, now_ms: int) -> bool:
        """PERCENT_PRICE_BY_SIDE: a limit price within the side's band of the average."""
        avg = self.average(sym, now_ms)
        if avg is None:
            return True  # nothing traded or quoted yet: nothing to stray from
        band = fmt.PERCENT_PRICE_BY_SIDE
        if side is Side.BUY:
            return avg * band["bidMultiplierDown"] <= price <= avg * band["bidMultiplierUp"]
        return avg * band["askMultiplierDown"] <= price <= avg * band["askMultiplierUp"]

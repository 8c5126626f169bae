"""Order rate: at most so many orders per rolling minute, globally and per symbol.

The gate records every approved order with ``now`` in its ``RateBook`` (its
own state; no clock is read). Breaking the limit again and again within a
window is what a runaway loop looks like: the gate counts one breach per
cycle and halts the bot when the count reaches the configured number.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bastion.model import OrderRequest
from bastion.risk.decisions import Decision, RiskReason, reject

if TYPE_CHECKING:
    from bastion.risk.context import RiskContext
    from bastion.risk.limits import RiskLimits

MINUTE_MS = 60_000


def _prune(q: deque[int], horizon: int) -> int:
    """Drop stamps at or before ``horizon``; return how many remain."""
    while q and q[0] <= horizon:
        q.popleft()
    return len(q)


class RateBook:
    """Timestamps of approved orders in the last minute, and of rate breaches."""

    __slots__ = ("_all", "_breaches", "_by_symbol")

    def __init__(self) -> None:
        self._all: deque[int] = deque()
        self._by_symbol: dict[str, deque[int]] = {}
        self._breaches: deque[int] = deque()

    def count(self, now: int, symbol: str | None = None) -> int:
        """Orders approved in the rolling minute ending at ``now`` (all, or one symbol's)."""
        q = self._all if symbol is None else self._by_symbol.get(symbol)
        return _prune(q, now - MINUTE_MS) if q else 0

    def record(self, symbol: str, now: int) -> None:
        self._all.append(now)
        q = self._by_symbol.get(symbol)
        if q is None:
            q = self._by_symbol[symbol] = deque()
        q.append(now)

    def breach(self, now: int, window_ms: int) -> int:
        """Count a breach (at most one per instant); return the breaches in the window."""
        if not self._breaches or self._breaches[-1] != now:
            self._breaches.append(now)
        return _prune(self._breaches, now - window_ms)


@dataclass(frozen=True, slots=True)
class OrderRateRule:
    """No new exposure beyond the per-minute order limits. Orders that only cut
    exposure are counted but never refused: a rate limit must not trap a bot in
    a position."""

    limits: RiskLimits
    name: str = "order_rate"

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        book = ctx.rate
        if book is None or (req.reduces_exposure and not ctx.increases(req)):
            return None
        now = ctx.now
        cap = self.limits.rate.orders_per_minute
        seen = book.count(now)
        if seen >= cap:
            return reject(
                req, RiskReason.ORDER_RATE, self.name, scope="global", limit=cap, observed=seen + 1
            )
        cap = self.limits.for_symbol(req.symbol).orders_per_minute
        seen = book.count(now, req.symbol)
        if seen >= cap:
            return reject(
                req, RiskReason.ORDER_RATE, self.name, scope="symbol", limit=cap, observed=seen + 1
            )
        return None

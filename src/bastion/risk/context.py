"""Everything a risk rule may look at, computed once per review.

Positions come from the venue (the account snapshot), never from the
strategy. Working orders count at their worst case: a resting buy is assumed
filled when measuring long exposure. Orders approved earlier in the same
review are added as they pass, so two orders cannot jointly slip past a limit
each respects alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from bastion.model import AccountSnapshot, Instrument, OrderRequest, Side
from bastion.model.money import ZERO
from bastion.model.view import MarketView
from bastion.risk.latch import HaltLatch


@dataclass(slots=True)
class Exposure:
    """Held quantity plus working buys and sells for one symbol."""

    held: Decimal = ZERO
    buys: Decimal = ZERO
    sells: Decimal = ZERO

    @property
    def worst_long(self) -> Decimal:
        return self.held + self.buys

    @property
    def worst_short(self) -> Decimal:
        return self.held - self.sells

    @property
    def worst_abs(self) -> Decimal:
        return max(abs(self.worst_long), abs(self.worst_short))


@dataclass(slots=True)
class RiskContext:
    account: AccountSnapshot
    view: MarketView
    now: int
    instruments: Mapping[str, Instrument]
    latch: HaltLatch
    marks: dict[str, Decimal]
    equity: Decimal
    exposure: dict[str, Exposure] = field(default_factory=dict)
    blocked: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls,
        *,
        account: AccountSnapshot,
        view: MarketView,
        now: int,
        instruments: Mapping[str, Instrument],
        latch: HaltLatch,
        blocked: frozenset[str] = frozenset(),
    ) -> RiskContext:
        marks = view.marks()
        exposure: dict[str, Exposure] = {}
        for sym, pos in account.positions.items():
            exposure[sym] = Exposure(held=pos.qty)
        for o in account.open_orders:
            e = exposure.setdefault(o.symbol, Exposure())
            if o.side is Side.BUY:
                e.buys += o.remaining
            else:
                e.sells += o.remaining
        return cls(
            account=account,
            view=view,
            now=now,
            instruments=instruments,
            latch=latch,
            marks=marks,
            equity=account.equity(marks),
            exposure=exposure,
            blocked=blocked,
        )

    def exposure_of(self, symbol: str) -> Exposure:
        return self.exposure.get(symbol) or Exposure()

    def add(self, req: OrderRequest) -> None:
        """Count an approved order as working."""
        e = self.exposure.setdefault(req.symbol, Exposure())
        if req.side is Side.BUY:
            e.buys += req.qty
        else:
            e.sells += req.qty

    def gross(self) -> Decimal:
        """Worst-case gross exposure across symbols, in quote currency."""
        return sum(
            (e.worst_abs * self.marks.get(s, ZERO) for s, e in self.exposure.items()), ZERO
        )

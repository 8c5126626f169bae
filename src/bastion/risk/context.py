"""Everything a risk rule may look at, computed once per review.

Positions come from the venue (the account snapshot), never from the
strategy. Working orders count at their worst case: a resting buy is assumed
filled when measuring long exposure. Orders approved earlier in the same
review are added as they pass, so two orders cannot jointly slip past a limit
each respects alone.

Marks are converted to Decimal only for the symbols a review touches, and the
cross-symbol totals (gross, net long, net short) are computed once and then
kept up to date as orders are added: a review stays a few dozen Decimal
operations whatever the number of symbols.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from bastion.model import AccountSnapshot, Instrument, OrderRequest, Side
from bastion.model.money import ZERO
from bastion.model.view import MarketView
from bastion.risk.latch import HaltLatch

if TYPE_CHECKING:
    from bastion.risk.rate import RateBook
    from bastion.risk.tape import MarketTape


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


_NONE = Exposure()


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
    # The gate's own state, attached by ``RiskGate.review`` (None when a rule is
    # used on its own): recent approvals, sampled market history, clusters.
    rate: RateBook | None = None
    tape: MarketTape | None = None
    clusters: Mapping[str, frozenset[str]] | None = None
    _totals: list[Decimal] | None = None  # [gross, net long, net short], lazily
    _values: dict[str, Decimal] = field(default_factory=dict)  # worst-case gross per symbol

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
        exposure: dict[str, Exposure] = {}
        for sym, pos in account.account_positions.items():
            exposure[sym] = Exposure(held=pos.qty)
        for o in account.open_orders:
            e = exposure.get(o.symbol)
            if e is None:
                e = exposure[o.symbol] = Exposure()
            if o.side is Side.BUY:
                e.buys += o.remaining
            else:
                e.sells += o.remaining
        ctx = cls(
            account=account,
            view=view,
            now=now,
            instruments=instruments,
            latch=latch,
            marks={},
            equity=ZERO,
            exposure=exposure,
            blocked=blocked,
        )
        total = account.cash()
        for sym, pos in account.account_positions.items():
            mark = ctx.mark(sym)
            total += pos.qty * (mark if mark is not None else pos.avg_price)
        ctx.equity = total
        return ctx

    def mark(self, symbol: str) -> Decimal | None:
        """The symbol's current price as Decimal, or None without data."""
        mark = self.marks.get(symbol)
        if mark is None:
            try:
                sv = self.view[symbol]
            except KeyError:
                return None
            if (sv.bars == 0 and sv.last is None) or sv.price <= 0:
                return None
            mark = self.marks[symbol] = sv.mark
        return mark

    def valuation(self, symbol: str) -> Decimal:
        """The mark, else the position's entry price (a symbol without data must
        still count toward exposure), else zero."""
        mark = self.mark(symbol)
        if mark is not None:
            return mark
        pos = self.account.account_positions.get(symbol)
        return pos.avg_price if pos is not None else ZERO

    def exposure_of(self, symbol: str) -> Exposure:
        return self.exposure.get(symbol) or _NONE

    def increases(self, req: OrderRequest) -> bool:
        """Could this order, with every working order filled, leave the position
        further from zero or on the other side of it?"""
        e = self.exposure.get(req.symbol) or _NONE
        if req.side is Side.BUY:
            return e.held + e.buys + req.qty > 0
        return e.held - e.sells - req.qty < 0

    def add(self, req: OrderRequest) -> None:
        """Count an approved order as working."""
        e = self.exposure.get(req.symbol)
        if e is None:
            e = self.exposure[req.symbol] = Exposure()
        totals = self._totals
        if totals is not None:
            self._count(totals, req.symbol, e, -1)
        if req.side is Side.BUY:
            e.buys += req.qty
        else:
            e.sells += req.qty
        if totals is not None:
            self._count(totals, req.symbol, e, 1)

    def _count(self, totals: list[Decimal], symbol: str, e: Exposure, sign: int) -> None:
        """Add (sign 1) or remove (sign -1) one symbol's worst case from the totals;
        inlined arithmetic, because this runs for every symbol of every review."""
        price = self.marks.get(symbol) or self.valuation(symbol)
        if e.buys or e.sells:
            long_value = (e.held + e.buys) * price
            short_value = (e.held - e.sells) * price
            gross = max(abs(long_value), abs(short_value))
        else:  # a plain holding, the common case
            long_value = short_value = e.held * price
            gross = abs(long_value)
        if sign > 0:
            self._values[symbol] = gross
            totals[0] += gross
            totals[1] += long_value
            totals[2] += short_value
        else:
            totals[0] -= gross
            totals[1] -= long_value
            totals[2] -= short_value

    def totals(self) -> list[Decimal]:
        """[gross, net long, net short] in quote currency, worst case."""
        if self._totals is None:
            totals = [ZERO, ZERO, ZERO]
            for sym, e in self.exposure.items():
                self._count(totals, sym, e, 1)
            self._totals = totals
        return self._totals

    def gross(self) -> Decimal:
        """Worst-case gross exposure across symbols, in quote currency."""
        return self.totals()[0]

    def cluster_gross(self, members: frozenset[str]) -> Decimal:
        """Worst-case gross exposure of ``members``, in quote currency."""
        self.totals()
        values = self._values
        total = ZERO
        for sym in members:
            value = values.get(sym)
            if value is not None:
                total += value
        return total

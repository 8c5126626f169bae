"""Everything a risk rule may look at, computed once per review.

Positions come from the venue (the account snapshot), never from the
strategy. Working orders count at their worst case: a resting buy is assumed
filled when measuring long exposure. Orders approved earlier in the same
review are added as they pass, so two orders cannot jointly slip past a limit
each respects alone.

Marks are converted to Decimal only for the symbols a review touches, and the
cross-symbol totals (gross, net long, net short) are computed once and then
kept up to date as orders are added. Equity and the totals are Decimal only
when a rule needs them exactly: an order clearly inside every limit is judged
on the float book (``bastion.risk.screen``), which gives the same verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from bastion.model import AccountSnapshot, Instrument, OrderRequest, Side
from bastion.model.money import ZERO, to_decimal
from bastion.model.view import MarketView
from bastion.risk.latch import HaltLatch
from bastion.risk.screen import Facts, FloatBook, price_float

if TYPE_CHECKING:
    from bastion.risk.rate import RateBook
    from bastion.risk.tape import MarketTape


@dataclass(slots=True)
class Exposure:
    """Held quantity plus working buys and sells for one symbol."""

    held: Decimal = ZERO
    buys: Decimal = ZERO
    sells: Decimal = ZERO
    # The same in floats, set when the context's float book is built (and by
    # the book as approved orders are added to it).
    fheld: float = 0.0
    fbuys: float = 0.0
    fsells: float = 0.0

    def magnitude(self) -> float:
        """What bounds the float error of this symbol's values, per unit of price."""
        return abs(self.fheld) + abs(self.fbuys) + abs(self.fsells)

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
_UNSEEN = -1.0  # never a ``price_float`` (a price <= 0 is None); compared by identity


@dataclass(slots=True)
class RiskContext:
    account: AccountSnapshot
    view: MarketView
    now: int
    instruments: Mapping[str, Instrument]
    latch: HaltLatch
    marks: dict[str, Decimal]
    exposure: dict[str, Exposure] = field(default_factory=dict)
    blocked: frozenset[str] = frozenset()
    # The gate's own state, attached by ``RiskGate.review`` (None when a rule is
    # used on its own): recent approvals, sampled market history, clusters.
    rate: RateBook | None = None
    tape: MarketTape | None = None
    clusters: Mapping[str, frozenset[str]] | None = None
    _totals: list[Decimal] | None = None  # [gross, net long, net short], lazily
    _values: dict[str, Decimal] = field(default_factory=dict)  # worst-case gross per symbol
    _equity: Decimal | None = None  # lazily: only a rule that cannot pass on floats needs it
    screen: bool = True  # judge clear passes on the float book (False: Decimal only)
    _book: FloatBook | None = None
    _facts: Facts | None = None  # of the request the rules are looking at
    # Each symbol's view price when the context first looked (None: no mark), so
    # that every mark, float or Decimal, and whenever read, is of one instant.
    _seen: dict[str, float | None] = field(default_factory=dict)
    _pending: list[OrderRequest] = field(default_factory=list)  # added, not yet in the book

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
            exposure=exposure,
            blocked=blocked,
        )
        # The float book with the exposure: one pass over the held and working
        # symbols per context, however many orders are then reviewed.
        ctx._book = FloatBook(account, view, exposure, ctx._seen)
        return ctx

    @property
    def equity(self) -> Decimal:
        """Cash plus every holding of the account at its mark (entry price without
        one), computed on first use."""
        equity = self._equity
        if equity is None:
            equity = self.account.cash()
            for sym, pos in self.account.account_positions.items():
                mark = self.mark(sym)
                equity += pos.qty * (mark if mark is not None else pos.avg_price)
            self._equity = equity
        return equity

    def book(self) -> FloatBook:
        """Equity and exposure totals in floats, for the screens."""
        book = self._book
        if book is None:
            book = self._book = FloatBook(self.account, self.view, self.exposure, self._seen)
        if self._pending:
            for req in self._pending:
                sym = req.symbol
                price = self.price_float(sym)
                if price is None:  # ``valuation``: the mark, else the entry price, else 0
                    pos = self.account.account_positions.get(sym)
                    price = float(pos.avg_price) if pos is not None else 0.0
                book.add(sym, self.exposure[sym], req, price)
            self._pending.clear()
        return book

    def facts(self, req: OrderRequest) -> Facts:
        """``req`` in floats (and whether it adds exposure), once per request."""
        facts = self._facts
        if facts is None or facts.req is not req:
            # Whether it adds exposure (``increases``), in Decimal: exact.
            e = self.exposure.get(req.symbol) or _NONE
            if req.side is Side.BUY:
                increases = e.held + e.buys + req.qty > 0
            else:
                increases = e.held - e.sells - req.qty < 0
            facts = self._facts = Facts(req, increases, self.price_float(req.symbol))
        return facts

    def price_float(self, symbol: str) -> float | None:
        """The symbol's view price as the context first saw it; None exactly when
        it has no mark."""
        price = self._seen.get(symbol, _UNSEEN)
        if price is _UNSEEN:
            price = self._seen[symbol] = price_float(self.view, symbol)
        return price

    def mark(self, symbol: str) -> Decimal | None:
        """The symbol's current price as Decimal, or None without data."""
        mark = self.marks.get(symbol)
        if mark is None:
            price = self.price_float(symbol)
            if price is None:
                return None
            mark = self.marks[symbol] = to_decimal(price)  # ``SymbolView.mark``
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
        return self.facts(req).increases

    def add(self, req: OrderRequest) -> None:
        """Count an approved order as working."""
        e = self.exposure.get(req.symbol)
        if e is None:
            e = self.exposure[req.symbol] = Exposure()
        self._facts = None  # whether an order adds exposure may change with this one
        self._pending.append(req)  # into the float book when a rule next reads it
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

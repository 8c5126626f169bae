"""Float screening: the Decimal verdict of a limit check, most of the time
without the Decimal arithmetic.

Most reviews approve, and an approval only needs to know that an order is
*clearly* inside each limit. The sums behind the limits (equity, worst-case
gross and net exposure, a cluster's gross) are kept here in floats, built from
the same inputs as the Decimal ones: each quantity converted once (correctly
rounded), each price the view's own float (the Decimal mark is that float's
shortest repr, so it converts back exactly). A sum of n such terms in floats is
then within about n x 1.1e-16 of the sum of the terms' magnitudes from the
Decimal result (which is exact at 28 digits for exchange increments), far
inside ``REL`` for any account. A check passes on floats only when the room left
is larger than ``REL`` times the magnitudes involved; otherwise, and for every
resize and reject, the rule does its Decimal arithmetic as it always did. So
the verdict, the reason, the details and every resized quantity are the Decimal
ones; a non-finite value anywhere poisons the book with NaN, and NaN never
passes. ``RiskGate(screen=False)`` turns the screens off (the reference in the
property tests).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from bastion.model import AccountSnapshot, OrderRequest, Side
from bastion.model.view import MarketView

if TYPE_CHECKING:
    from bastion.risk.context import Exposure

REL = 1e-9  # relative margin: float error stays below n x 1.1e-16 for n terms
ABS = 1e-300  # and an absolute one, for sums that underflow
NAN = math.nan


def price_float(view: MarketView, symbol: str) -> float | None:
    """The float behind ``RiskContext.mark``: None exactly when the mark is None."""
    sv = view.get(symbol)
    if sv is None or (sv.bars == 0 and sv.last is None):
        return None
    price = sv.price
    return None if price <= 0 else price


class Facts:
    """One request in floats, computed once however many rules look at it:
    whether it adds exposure (exact, Decimal), its quantity, the price it is
    valued at (``rules.price_of`` in floats: NaN when there is none, which
    fails every screen) and its notional."""

    __slots__ = ("increases", "mark", "notional", "price", "qty", "req")

    def __init__(self, req: OrderRequest, increases: bool, mark: float | None) -> None:
        self.req = req
        self.increases = increases
        self.mark = mark  # None exactly when ``RiskContext.mark`` is None
        self.qty = qty = float(req.qty)
        price = req.price
        if price is None:
            value_at = mark
        else:
            value_at = float(price)
            if mark is not None and mark > value_at:
                value_at = mark
        value_at = self.price = value_at if value_at is not None and value_at > 0 else NAN
        self.notional = qty * value_at


class FloatBook:
    """Equity and worst-case exposure in floats, with the magnitudes that bound
    their error (``equity_scale``; ``bound`` for the exposure totals, which only
    grows as orders are added)."""

    __slots__ = (
        "bound",
        "equity",
        "equity_scale",
        "gross",
        "long",
        "short",
        "values",
    )

    def __init__(
        self,
        account: AccountSnapshot,
        view: MarketView,
        exposure: Mapping[str, Exposure],
        seen: dict[str, float | None],
    ) -> None:
        """``seen`` receives each symbol's ``price_float``: the context's marks are
        then of the instant the book was built, whenever they are read."""
        positions = account.account_positions
        get = view.get
        cash = float(account.cash())
        equity, scale = cash, abs(cash)
        gross = net_long = net_short = bound = 0.0
        values: dict[str, float] = {}
        # One tight loop (it runs for every held or working symbol of a review):
        # ``price_float`` and ``Exposure.floats`` inlined.
        for sym, e in exposure.items():
            sv = get(sym)
            if sv is None or (sv.bars == 0 and sv.last is None) or (price := sv.price) <= 0:
                seen[sym] = None
                pos = positions.get(sym)
                price = float(pos.avg_price) if pos is not None else 0.0
            else:
                seen[sym] = price
            held = e.fheld = float(e.held) if e.held else 0.0
            if held:  # only a position sets ``held``: equity counts it
                value = held * price
                equity += value
                scale += abs(value)
            buys, sells = e.buys, e.sells
            if buys or sells:
                fbuys = e.fbuys = float(buys) if buys else 0.0
                fsells = e.fsells = float(sells) if sells else 0.0
                long_value = (held + fbuys) * price
                short_value = (held - fsells) * price
                g = max(abs(long_value), abs(short_value))
                bound += (abs(held) + abs(fbuys) + abs(fsells)) * abs(price)
            else:  # a plain holding, the common case
                long_value = short_value = held * price
                g = abs(long_value)
                bound += g
            values[sym] = g
            gross += g
            net_long += long_value
            net_short += short_value
        self.values = values
        if not math.isfinite(scale + bound):
            equity = scale = gross = net_long = net_short = bound = NAN
        self.equity, self.equity_scale = equity, scale
        self.gross, self.long, self.short, self.bound = gross, net_long, net_short, bound

    def add(self, symbol: str, e: Exposure, req: OrderRequest, price: float) -> None:
        """Count an approved order as working (``e``'s floats do not have it yet);
        ``price`` is the symbol's valuation (``RiskContext.valuation`` in floats)."""
        qty = float(req.qty)
        before = e.magnitude()
        old_long = (e.fheld + e.fbuys) * price
        old_short = (e.fheld - e.fsells) * price
        if req.side is Side.BUY:
            e.fbuys += qty
        else:
            e.fsells += qty
        long_value = (e.fheld + e.fbuys) * price
        short_value = (e.fheld - e.fsells) * price
        g = max(abs(long_value), abs(short_value))
        old = self.values.get(symbol, 0.0)
        self.values[symbol] = g
        self.gross += g - old
        self.long += long_value - old_long
        self.short += short_value - old_short
        self.bound += (before + e.magnitude()) * abs(price)
        if not math.isfinite(self.bound):
            self.gross = self.long = self.short = self.bound = NAN

    def cluster(self, members: frozenset[str]) -> float:
        """Worst-case gross of ``members``: the whole gross when the cluster holds
        every symbol with exposure (all symbols, while correlations warm up)."""
        values = self.values
        if values.keys() <= members:
            return self.gross
        return sum([values.get(s, 0.0) for s in members])

    def fits(self, fraction: float, current: float, scale: float, facts: Facts) -> bool:
        """``current + facts.notional <= fraction x max(equity, 0)`` beyond any
        float error: ``scale`` bounds the magnitudes summed into ``current``."""
        equity = self.equity
        limit = fraction * (equity if equity > 0.0 else 0.0)
        added = facts.notional
        margin = limit - current - added
        return margin > REL * (abs(fraction) * self.equity_scale + scale + abs(added)) + ABS


def fraction_floats(per_symbol: Mapping[str, Decimal]) -> dict[str, float]:
    """Per-symbol limit fractions as floats, converted once per rule."""
    return {s: float(v) for s, v in per_symbol.items()}

"""Exposure rules: one symbol, all symbols gross and net, and clusters of
symbols that move together. All measured from the exchange's account plus
working orders at their worst-case fill (``RiskContext``), never from what the
strategy believes it holds; an order that cannot add exposure is never limited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bastion.model import OrderRequest, Side
from bastion.model.money import ZERO
from bastion.risk.context import RiskContext
from bastion.risk.decisions import Decision, RiskReason
from bastion.risk.rules import price_of, shrink
from bastion.risk.screen import fraction_floats


def cap(
    req: OrderRequest,
    ctx: RiskContext,
    *,
    fraction: Decimal,
    current: Decimal,
    price: Decimal,
    reason: RiskReason,
    rule: str,
    **details: Any,
) -> Decision | None:
    """The shared tail of every exposure rule: ``current`` exposure (quote
    currency) plus this order must stay within ``fraction`` of equity; otherwise
    shrink the order to the room left, or reject when no valid order fits."""
    limit = fraction * max(ctx.equity, ZERO)
    added = req.qty * price
    if current + added <= limit:
        return None
    return shrink(
        req,
        ctx,
        (limit - current) / price,
        reason,
        rule,
        limit=str(limit),
        observed=str(current + added),
        **details,
    )


@dataclass(frozen=True, slots=True)
class PositionLimitRule:
    """No position in one symbol worth more than ``max_fraction`` of equity
    (per-symbol overrides in ``per_symbol``)."""

    max_fraction: Decimal
    per_symbol: Mapping[str, Decimal] = field(default_factory=dict)
    name: str = "position_limit"
    _fractions: Mapping[str, float] = field(init=False, repr=False, compare=False)
    _fraction: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_fractions", fraction_floats(self.per_symbol))
        object.__setattr__(self, "_fraction", float(self.max_fraction))

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        facts = ctx.facts(req)
        if not facts.increases:
            return None
        if ctx.screen:
            book = ctx.book()  # sets the exposure's floats
            e = ctx.exposure_of(req.symbol)
            price_f = facts.price
            held_f = e.fheld + e.fbuys if req.side is Side.BUY else e.fsells - e.fheld
            fraction_f = self._fractions.get(req.symbol, self._fraction)
            scale = (abs(e.fheld) + abs(e.fbuys) + abs(e.fsells)) * abs(price_f)  # magnitude()
            if book.fits(fraction_f, held_f * price_f, scale, facts):
                return None
        price = price_of(req, ctx)
        if isinstance(price, Decision):
            return price
        e = ctx.exposure_of(req.symbol)
        held = e.worst_long if req.side is Side.BUY else -e.worst_short
        return cap(
            req,
            ctx,
            fraction=self.per_symbol.get(req.symbol, self.max_fraction),
            current=held * price,
            price=price,
            reason=RiskReason.POSITION_LIMIT,
            rule=self.name,
            equity=str(ctx.equity),
        )


@dataclass(frozen=True, slots=True)
class GrossExposureRule:
    """Worst-case gross exposure across symbols at most ``max_fraction`` of equity."""

    max_fraction: Decimal
    name: str = "gross_exposure"
    _fraction: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_fraction", float(self.max_fraction))

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        facts = ctx.facts(req)
        if not facts.increases:
            return None
        if ctx.screen:
            book = ctx.book()
            if book.fits(self._fraction, book.gross, book.bound, facts):
                return None
        price = price_of(req, ctx)
        if isinstance(price, Decision):
            return price
        return cap(
            req,
            ctx,
            fraction=self.max_fraction,
            current=ctx.gross(),
            price=price,
            reason=RiskReason.EXPOSURE_LIMIT,
            rule=self.name,
        )


@dataclass(frozen=True, slots=True)
class NetExposureRule:
    """Worst-case net exposure (longs minus shorts) at most ``max_fraction`` of
    equity in either direction. On a long-only spot account it equals gross;
    it matters once shorts are allowed."""

    max_fraction: Decimal
    name: str = "net_exposure"
    _fraction: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_fraction", float(self.max_fraction))

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        facts = ctx.facts(req)
        if not facts.increases:
            return None
        if ctx.screen:
            book = ctx.book()
            net = book.long if req.side is Side.BUY else -book.short
            if book.fits(self._fraction, net, book.bound, facts):
                return None
        price = price_of(req, ctx)
        if isinstance(price, Decision):
            return price
        _, net_long, net_short = ctx.totals()
        return cap(
            req,
            ctx,
            fraction=self.max_fraction,
            current=net_long if req.side is Side.BUY else -net_short,
            price=price,
            reason=RiskReason.NET_EXPOSURE_LIMIT,
            rule=self.name,
            direction="long" if req.side is Side.BUY else "short",
        )


@dataclass(frozen=True, slots=True)
class ClusterExposureRule:
    """Symbols whose returns are correlated above the threshold form a cluster
    (``ctx.clusters``, maintained by the gate); the cluster's combined gross
    exposure is at most ``max_fraction`` of equity."""

    max_fraction: Decimal
    name: str = "correlation"
    _fraction: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_fraction", float(self.max_fraction))

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        clusters = ctx.clusters
        if not clusters:
            return None
        members = clusters.get(req.symbol)
        if members is None:
            return None
        facts = ctx.facts(req)
        if not facts.increases:
            return None
        if ctx.screen:
            book = ctx.book()
            if book.fits(self._fraction, book.cluster(members), book.bound, facts):
                return None
        price = price_of(req, ctx)
        if isinstance(price, Decision):
            return price
        return cap(
            req,
            ctx,
            fraction=self.max_fraction,
            current=ctx.cluster_gross(members),
            price=price,
            reason=RiskReason.CORRELATION_LIMIT,
            rule=self.name,
            cluster=sorted(members),
            basis="assumed while correlations warm up"
            if ctx.tape is not None and ctx.tape.warming_up
            else "measured correlation",
        )

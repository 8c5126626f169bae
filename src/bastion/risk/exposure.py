"""Exposure rules: one symbol, all symbols gross and net, and clusters of
symbols that move together. All measured from the exchange's account plus
working orders at their worst-case fill (``RiskContext``), never from what the
strategy believes it holds; an order that cannot add exposure is never limited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from bastion.model import OrderRequest, Side
from bastion.model.money import ZERO
from bastion.risk.context import RiskContext
from bastion.risk.decisions import Decision, RiskReason
from bastion.risk.rules import price_of, shrink


@dataclass(frozen=True, slots=True)
class PositionLimitRule:
    """No position in one symbol worth more than ``max_fraction`` of equity
    (per-symbol overrides in ``per_symbol``)."""

    max_fraction: Decimal
    per_symbol: Mapping[str, Decimal] = field(default_factory=dict)
    name: str = "position_limit"

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        if not ctx.increases(req):
            return None
        price = price_of(req, ctx)
        if isinstance(price, Decision):
            return price
        fraction = self.per_symbol.get(req.symbol, self.max_fraction)
        limit = fraction * max(ctx.equity, ZERO)
        e = ctx.exposure_of(req.symbol)
        current = e.worst_long if req.side is Side.BUY else -e.worst_short
        if (current + req.qty) * price <= limit:
            return None
        return shrink(
            req,
            ctx,
            limit / price - current,
            RiskReason.POSITION_LIMIT,
            self.name,
            limit=str(fraction),
            equity=str(ctx.equity),
            observed=str((current + req.qty) * price),
        )


@dataclass(frozen=True, slots=True)
class GrossExposureRule:
    """Worst-case gross exposure across symbols at most ``max_fraction`` of equity."""

    max_fraction: Decimal
    name: str = "gross_exposure"

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        if not ctx.increases(req):
            return None
        price = price_of(req, ctx)
        if isinstance(price, Decision):
            return price
        limit = self.max_fraction * max(ctx.equity, ZERO)
        gross = ctx.gross()
        added = req.qty * price
        if gross + added <= limit:
            return None
        return shrink(
            req,
            ctx,
            (limit - gross) / price,
            RiskReason.EXPOSURE_LIMIT,
            self.name,
            limit=str(limit),
            observed=str(gross + added),
        )


@dataclass(frozen=True, slots=True)
class NetExposureRule:
    """Worst-case net exposure (longs minus shorts) at most ``max_fraction`` of
    equity in either direction. On a long-only spot account it equals gross;
    it matters once shorts are allowed."""

    max_fraction: Decimal
    name: str = "net_exposure"

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        if not ctx.increases(req):
            return None
        price = price_of(req, ctx)
        if isinstance(price, Decision):
            return price
        limit = self.max_fraction * max(ctx.equity, ZERO)
        _, net_long, net_short = ctx.totals()
        current = net_long if req.side is Side.BUY else -net_short
        added = req.qty * price
        if current + added <= limit:
            return None
        return shrink(
            req,
            ctx,
            (limit - current) / price,
            RiskReason.NET_EXPOSURE_LIMIT,
            self.name,
            limit=str(limit),
            observed=str(current + added),
            direction="long" if req.side is Side.BUY else "short",
        )


@dataclass(frozen=True, slots=True)
class ClusterExposureRule:
    """Symbols whose returns are correlated above the threshold form a cluster
    (``ctx.clusters``, maintained by the gate); the cluster's combined gross
    exposure is at most ``max_fraction`` of equity."""

    max_fraction: Decimal
    name: str = "correlation"

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        clusters = ctx.clusters
        if not clusters:
            return None
        members = clusters.get(req.symbol)
        if members is None or not ctx.increases(req):
            return None
        price = price_of(req, ctx)
        if isinstance(price, Decision):
            return price
        limit = self.max_fraction * max(ctx.equity, ZERO)
        current = ctx.cluster_gross(members)
        added = req.qty * price
        if current + added <= limit:
            return None
        return shrink(
            req,
            ctx,
            (limit - current) / price,
            RiskReason.CORRELATION_LIMIT,
            self.name,
            limit=str(limit),
            observed=str(current + added),
            cluster=sorted(members),
            basis="assumed while correlations warm up"
            if ctx.tape is not None and ctx.tape.warming_up
            else "measured correlation",
        )

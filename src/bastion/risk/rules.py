"""Risk rules: small objects, each answering for one order.

``check`` returns None when the rule has no objection, else a Decision
(reject, or resize with the smaller order). Rules never mutate the context;
the gate records approved orders. Limits are fractions of account equity
(0.2 is 20%), so they scale with the account.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Protocol

from bastion.model import OrderRequest, Side
from bastion.model.money import ZERO
from bastion.risk.context import RiskContext
from bastion.risk.decisions import Decision, RiskReason, reject, resize
from bastion.risk.latch import HaltState


class Rule(Protocol):
    name: str

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None: ...


def _increases(req: OrderRequest, ctx: RiskContext) -> bool:
    """Would this order increase the worst-case absolute position?"""
    e = ctx.exposure_of(req.symbol)
    if req.side is Side.BUY:
        return abs(e.worst_long + req.qty) > abs(e.held) and e.worst_long + req.qty > 0
    return abs(e.worst_short - req.qty) > abs(e.held) and e.worst_short - req.qty < 0


@dataclass(frozen=True, slots=True)
class HaltRule:
    """HALTED or REDUCING: only orders that cut exposure pass."""

    name: str = "halt"

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        state = ctx.latch.state
        if state is HaltState.ACTIVE or (req.reduces_exposure and not _increases(req, ctx)):
            return None
        reason = RiskReason.HALTED if state is HaltState.HALTED else RiskReason.REDUCING_ONLY
        return reject(req, reason, self.name, state=state.value, latch_reason=ctx.latch.reason)


@dataclass(frozen=True, slots=True)
class FreshDataRule:
    """No new exposure on a symbol whose newest data is too old or missing."""

    name: str = "fresh_data"

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        sv = ctx.view.get(req.symbol)
        if sv is not None and sv.tradable:
            return None
        if not _increases(req, ctx):
            return None
        return reject(
            req,
            RiskReason.STALE_DATA,
            self.name,
            data_ts=sv.data_ts if sv is not None else None,
            now=ctx.now,
        )


@dataclass(frozen=True, slots=True)
class BlockedSymbolRule:
    """No new exposure while an order on the symbol has an unknown outcome."""

    name: str = "blocked_symbol"

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        if req.symbol in ctx.blocked and _increases(req, ctx):
            return reject(req, RiskReason.SYMBOL_BLOCKED, self.name, symbol=req.symbol)
        return None


@dataclass(frozen=True, slots=True)
class InventoryRule:
    """Spot: never sell what is not held (counting sells already working)."""

    allow_short: bool = False
    name: str = "inventory"

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        if req.side is Side.BUY or self.allow_short:
            return None
        e = ctx.exposure_of(req.symbol)
        available = e.held - e.sells
        if req.qty <= available:
            return None
        return reject(
            req,
            RiskReason.INVENTORY,
            self.name,
            held=str(e.held),
            working_sells=str(e.sells),
            qty=str(req.qty),
        )


def _shrink(
    req: OrderRequest, ctx: RiskContext, max_qty: Decimal, reason: RiskReason, rule: str, **d: str
) -> Decision:
    inst = ctx.instruments[req.symbol]
    qty = inst.round_qty(max_qty)
    mark = ctx.marks.get(req.symbol, ZERO)
    if qty <= 0 or inst.below_minimum(qty, req.price or mark) is not None:
        return reject(req, reason, rule, **d)
    return resize(req, replace(req, qty=qty), reason, rule, new_qty=str(qty), **d)


@dataclass(frozen=True, slots=True)
class PositionLimitRule:
    """No position in one symbol worth more than ``max_fraction`` of equity."""

    max_fraction: Decimal
    name: str = "position_limit"

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        if not _increases(req, ctx):
            return None
        mark = req.price or ctx.marks.get(req.symbol)
        if not mark:
            return reject(req, RiskReason.NO_PRICE, self.name, symbol=req.symbol)
        limit_qty = self.max_fraction * max(ctx.equity, ZERO) / mark
        e = ctx.exposure_of(req.symbol)
        current = e.worst_long if req.side is Side.BUY else -e.worst_short
        room = limit_qty - current
        if req.qty <= room:
            return None
        return _shrink(
            req,
            ctx,
            room,
            RiskReason.POSITION_LIMIT,
            self.name,
            limit=str(self.max_fraction),
            equity=str(ctx.equity),
            observed=str((current + req.qty) * mark),
        )


@dataclass(frozen=True, slots=True)
class GrossExposureRule:
    """Worst-case gross exposure across symbols at most ``max_fraction`` of equity."""

    max_fraction: Decimal
    name: str = "gross_exposure"

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        if not _increases(req, ctx):
            return None
        mark = req.price or ctx.marks.get(req.symbol)
        if not mark:
            return reject(req, RiskReason.NO_PRICE, self.name, symbol=req.symbol)
        limit = self.max_fraction * max(ctx.equity, ZERO)
        gross = ctx.gross()
        added = req.qty * mark
        if gross + added <= limit:
            return None
        return _shrink(
            req,
            ctx,
            (limit - gross) / mark,
            RiskReason.EXPOSURE_LIMIT,
            self.name,
            limit=str(limit),
            observed=str(gross + added),
        )


@dataclass(frozen=True, slots=True)
class OrderSizeRule:
    """One order at most ``max_fraction`` of equity in notional."""

    max_fraction: Decimal
    name: str = "order_size"

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        if req.reduces_exposure:
            return None
        mark = req.price or ctx.marks.get(req.symbol)
        if not mark:
            return reject(req, RiskReason.NO_PRICE, self.name, symbol=req.symbol)
        limit = self.max_fraction * max(ctx.equity, ZERO)
        if req.qty * mark <= limit:
            return None
        return _shrink(
            req,
            ctx,
            limit / mark,
            RiskReason.ORDER_SIZE,
            self.name,
            limit=str(limit),
            observed=str(req.qty * mark),
        )

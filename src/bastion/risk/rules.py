"""Risk rules: small objects, each answering for one order.

``check`` returns None when the rule has no objection, else a Decision
(reject, or resize with the smaller order). Rules never mutate the context;
the gate records approved orders. Limits are fractions of account equity
(0.2 is 20%), so they scale with the account.

This module holds the rule contract, the helpers every sizing rule shares and
the rules about the bot's own state (latch, blocked symbols, stale data,
inventory, order size). Exposure, sanity and volume rules live beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Protocol

from bastion.model import OrderRequest, OrderType, Side
from bastion.model.money import ZERO
from bastion.risk.context import RiskContext
from bastion.risk.decisions import Decision, RiskReason, reject, resize
from bastion.risk.latch import HaltState
from bastion.risk.screen import fraction_floats


class Rule(Protocol):
    @property
    def name(self) -> str: ...

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None: ...


def applies(rule: Rule, side: Side, type: OrderType) -> bool:
    """Whether ``rule`` can object to an order of this side and type at all: a
    rule may say it cannot (``applies(side, type)`` returning False, which must
    be the first thing its ``check`` tests), and the gate then skips it."""
    test = getattr(rule, "applies", None)
    return True if test is None else bool(test(side, type))


def price_of(req: OrderRequest, ctx: RiskContext) -> Decision | Decimal:
    """The price to value ``req`` at, or a NO_PRICE reject: the higher of its
    limit and the mark, so a buy limit below the market is not valued below what
    the position will be worth once filled (exposure is marked at the market)."""
    mark = ctx.mark(req.symbol)
    price = req.price
    if price is None or (mark is not None and mark > price):
        price = mark
    if price is None or price <= 0:
        return reject(req, RiskReason.NO_PRICE, "price", symbol=req.symbol)
    return price


def shrink(
    req: OrderRequest,
    ctx: RiskContext,
    max_qty: Decimal,
    reason: RiskReason,
    rule: str,
    *,
    reject_reason: RiskReason | None = None,
    **details: Any,
) -> Decision:
    """Resize ``req`` down to ``max_qty`` (rounded to the lot), or reject it when
    what is left is nothing or below the exchange minimums."""
    inst = ctx.instruments.get(req.symbol)
    qty = inst.round_qty(max_qty) if inst is not None else ZERO
    price = req.price or ctx.mark(req.symbol) or ZERO
    why = "no instrument" if inst is None else inst.below_minimum(qty, price)
    if why is not None:
        return reject(req, reject_reason or reason, rule, why=why, **details)
    return resize(req, replace(req, qty=qty), reason, rule, new_qty=str(qty), **details)


@dataclass(frozen=True, slots=True)
class HaltRule:
    """HALTED or REDUCING: only orders that cut exposure pass."""

    name: str = "halt"

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        state = ctx.latch.state
        if state is HaltState.ACTIVE or (req.reduces_exposure and not ctx.increases(req)):
            return None
        reason = RiskReason.HALTED if state is HaltState.HALTED else RiskReason.REDUCING_ONLY
        return reject(
            req,
            reason,
            self.name,
            state=state.value,
            latch_reason=ctx.latch.reason,
            latch_by=ctx.latch.by,
            since_ts=ctx.latch.since_ts,
        )


@dataclass(frozen=True, slots=True)
class FreshDataRule:
    """No new exposure on a symbol whose newest data is too old or missing."""

    name: str = "fresh_data"

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        sv = ctx.view.get(req.symbol)
        if sv is not None and sv.tradable:
            return None
        if not ctx.increases(req):
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
        if req.symbol in ctx.blocked and ctx.increases(req):
            return reject(req, RiskReason.SYMBOL_BLOCKED, self.name, symbol=req.symbol)
        return None


@dataclass(frozen=True, slots=True)
class InventoryRule:
    """Spot: never sell what is not held (counting sells already working)."""

    allow_short: bool = False
    name: str = "inventory"

    def applies(self, side: Side, type: OrderType) -> bool:
        return side is Side.SELL and not self.allow_short

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


@dataclass(frozen=True, slots=True)
class OrderSizeRule:
    """One order at most ``max_fraction`` of equity in notional (per-symbol
    overrides in ``overrides``). Exposure-cutting orders are not limited."""

    max_fraction: Decimal
    per_symbol: Mapping[str, Decimal] = field(default_factory=dict)
    name: str = "order_size"
    _fractions: Mapping[str, float] = field(init=False, repr=False, compare=False)
    _fraction: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_fractions", fraction_floats(self.per_symbol))
        object.__setattr__(self, "_fraction", float(self.max_fraction))

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        facts = ctx.facts(req)
        if req.reduces_exposure and not facts.increases:
            return None
        if ctx.screen:
            fraction_f = self._fractions.get(req.symbol, self._fraction)
            if ctx.book().fits(fraction_f, 0.0, 0.0, facts):
                return None
        price = price_of(req, ctx)
        if isinstance(price, Decision):
            return price
        fraction = self.per_symbol.get(req.symbol, self.max_fraction)
        limit = fraction * max(ctx.equity, ZERO)
        notional = req.qty * price
        if notional <= limit:
            return None
        return shrink(
            req,
            ctx,
            limit / price,
            RiskReason.ORDER_SIZE,
            self.name,
            limit=str(fraction),
            equity=str(ctx.equity),
            observed=str(notional),
        )

"""Per-order sanity: what a fat finger or a confused strategy gets wrong.

- ``QuoteRule``: a market order needs a price to be judged by, and (when
  configured) one no older than ``max_quote_age_ms``.
- ``PriceBandRule``: a limit price within N% of the market, or within k×ATR
  when an ATR multiple is configured and the ATR is known.
- ``PrecisionRule``: quantities and prices on the exchange's increments (sizes
  rounded down; a buy's price rounded down and a sell's up, never more
  aggressive than asked), and nothing below the minimum size or notional.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from bastion.model import OrderRequest, OrderType, Side
from bastion.model.money import ZERO
from bastion.risk.context import RiskContext
from bastion.risk.decisions import Decision, RiskReason, reject, resize
from bastion.risk.limits import RiskLimits


@dataclass(frozen=True, slots=True)
class QuoteRule:
    """A market order needs a positive price for its symbol; one that adds
    exposure also needs that price to be fresh."""

    max_quote_age_ms: int | None = None
    name: str = "quote"

    def applies(self, side: Side, type: OrderType) -> bool:
        return type is OrderType.MARKET

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        if req.type is not OrderType.MARKET:
            return None
        if ctx.facts(req).mark is None:  # no view of the symbol, or no price in it
            return reject(req, RiskReason.NO_PRICE, self.name, symbol=req.symbol)
        age = self.max_quote_age_ms
        if age is None:
            return None
        sv = ctx.view.get(req.symbol)
        if sv is None:
            return reject(req, RiskReason.NO_PRICE, self.name, symbol=req.symbol)
        if ctx.now - sv.data_ts > age and ctx.increases(req):
            return reject(
                req,
                RiskReason.STALE_QUOTE,
                self.name,
                limit=age,
                observed=ctx.now - sv.data_ts,
                data_ts=sv.data_ts,
            )
        return None


@dataclass(frozen=True, slots=True)
class PriceBandRule:
    """A limit price at most ``max_price_deviation`` (per symbol) away from the
    current price, or ``price_band_atr`` × ATR when set and the ATR is known."""

    limits: RiskLimits
    name: str = "price_band"

    def applies(self, side: Side, type: OrderType) -> bool:
        return type is OrderType.LIMIT

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        if req.type is not OrderType.LIMIT or req.price is None:
            return None
        mark = ctx.mark(req.symbol)
        if mark is None:
            return reject(req, RiskReason.NO_PRICE, self.name, symbol=req.symbol)
        deviation = abs(req.price - mark)
        k = self.limits.sanity.price_band_atr
        atr = ctx.tape.atr(req.symbol) if k is not None and ctx.tape is not None else None
        if atr is not None and k is not None:
            band = Decimal(repr(k * atr))
            basis = f"{k} x ATR"
        else:
            band = self.limits.for_symbol(req.symbol).max_price_deviation * mark
            basis = "fraction of price"
        if deviation <= band:
            return None
        return reject(
            req,
            RiskReason.PRICE_BAND,
            self.name,
            limit=str(band),
            observed=str(deviation),
            market=str(mark),
            price=str(req.price),
            basis=basis,
        )


def _round_price(price: Decimal, tick: Decimal, side: Side) -> Decimal:
    if tick <= 0:
        return price
    rounding = ROUND_FLOOR if side is Side.BUY else ROUND_CEILING
    return (price / tick).to_integral_value(rounding=rounding) * tick


@dataclass(frozen=True, slots=True)
class PrecisionRule:
    """On the exchange's increments and above its minimums, or not at all."""

    name: str = "precision"

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        inst = ctx.instruments.get(req.symbol)
        if inst is None:
            return reject(req, RiskReason.BELOW_MINIMUM, self.name, why="unknown instrument")
        qty = inst.round_qty(req.qty)
        price = req.price
        if price is not None:
            price = _round_price(price, inst.tick_size, req.side)
        # The mark only matters against a minimum notional (its conversion is not free).
        value_at = price
        if not value_at and inst.min_notional > 0:
            value_at = ctx.mark(req.symbol)
        why = inst.below_minimum(qty, value_at or ZERO)
        if why is not None:
            return reject(
                req,
                RiskReason.BELOW_MINIMUM,
                self.name,
                why=why,
                min_qty=str(inst.min_qty),
                min_notional=str(inst.min_notional),
            )
        if qty == req.qty and price == req.price:
            return None
        return resize(
            req,
            replace(req, qty=qty, price=price),
            RiskReason.PRECISION,
            self.name,
            new_qty=str(qty),
            new_price=str(price) if price is not None else None,
        )

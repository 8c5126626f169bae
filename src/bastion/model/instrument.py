"""Instruments: what the exchange will accept for one symbol."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bastion.model.money import ZERO, quantize_down, quantize_nearest


@dataclass(frozen=True, slots=True, kw_only=True)
class Instrument:
    """A tradable symbol with the exchange's increments, minimums and fees.

    ``tick_size`` and ``lot_size`` are the price and quantity increments;
    ``min_qty`` and ``min_notional`` are the exchange's minimums. Fees are
    fractions of notional (0.001 is 10 bps), charged in the quote asset.
    """

    symbol: str
    base: str
    quote: str
    tick_size: Decimal = Decimal("0.00000001")
    lot_size: Decimal = Decimal("0.00000001")
    min_qty: Decimal = ZERO
    min_notional: Decimal = ZERO
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")

    @classmethod
    def spot(cls, symbol: str, **kwargs: Decimal) -> Instrument:
        """An instrument for ``BASE/QUOTE`` with the given overrides."""
        base, _, quote = symbol.partition("/")
        if not base or not quote:
            raise ValueError(f"symbol {symbol!r} is not of the form BASE/QUOTE")
        return cls(symbol=symbol, base=base, quote=quote, **kwargs)

    def round_price(self, price: Decimal) -> Decimal:
        """Nearest valid price."""
        return quantize_nearest(price, self.tick_size)

    def round_qty(self, qty: Decimal) -> Decimal:
        """Largest valid quantity not above ``qty`` (sign kept)."""
        if qty < 0:
            return -quantize_down(-qty, self.lot_size)
        return quantize_down(qty, self.lot_size)

    def below_minimum(self, qty: Decimal, price: Decimal) -> str | None:
        """Why an order of ``qty`` at ``price`` is below the exchange minimums, or None."""
        if qty <= 0:
            return "quantity is zero after rounding"
        if qty < self.min_qty:
            return f"quantity {qty} below minimum {self.min_qty}"
        if price > 0 and qty * price < self.min_notional:
            return f"notional {qty * price} below minimum {self.min_notional}"
        return None

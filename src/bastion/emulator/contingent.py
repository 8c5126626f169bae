"""Binance's conditional orders: when a stop triggers, and what an OCO may be.

Pure rules, no state: ``Exchange`` keeps the orders and asks these. The rules
are Binance's spot API docs' (rest-api.md, "New order" and "New Order list -
OCO"): a stop-loss sells when the last trade falls to its stop price and buys
when it rises to it; a take-profit the other way round; an order that would
trigger on arrival is refused, and so is an OCO whose prices are not ordered
limit > last > stop (sell) or limit < last < stop (buy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from bastion.emulator import errors
from bastion.emulator.params import positive_decimal, required
from bastion.model import Side

STOP_TYPES = ("STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
# The legs an OCO may have, as far as the emulator implements them (Binance
# also takes the market variants STOP_LOSS and TAKE_PROFIT).
_ABOVE_TYPES = ("LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
_BELOW_TYPES = ("STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")


def triggered(type_name: str, side: Side, stop: Decimal, last: Decimal) -> bool:
    """Whether a stop order of this type and side works at ``last``."""
    falling = (type_name == "STOP_LOSS_LIMIT") == (side is Side.SELL)
    return last <= stop if falling else last >= stop


def would_trigger_immediately() -> errors.ApiError:
    return errors.ApiError(400, -2010, "Order would trigger immediately.")


def bad_price_relationship() -> errors.ApiError:
    return errors.ApiError(
        400, -2010, "The relationship of the prices for the orders is not correct."
    )


@dataclass(frozen=True, slots=True)
class Leg:
    """One side of an OCO, as the request describes it."""

    type_name: str
    price: Decimal
    stop_price: Decimal | None
    tif_name: str | None
    client_id: str | None

    @property
    def is_stop_loss(self) -> bool:
        return self.type_name == "STOP_LOSS_LIMIT"


def parse_leg(p: Mapping[str, str], where: str) -> Leg:
    """``above*`` or ``below*`` parameters; Binance's refusals for a missing one."""
    allowed = _ABOVE_TYPES if where == "above" else _BELOW_TYPES
    type_name = required(p, f"{where}Type").upper()
    if type_name not in allowed:
        raise errors.bad_order_type()
    price = positive_decimal(p, f"{where}Price")
    if type_name == "LIMIT_MAKER":
        if p.get(f"{where}StopPrice"):
            raise errors.ApiError(
                400, -1106, f"Parameter '{where}StopPrice' sent when not required."
            )
        return Leg(type_name, price, None, None, p.get(f"{where}ClientOrderId") or None)
    stop = positive_decimal(p, f"{where}StopPrice")
    tif = required(p, f"{where}TimeInForce").upper()
    if tif not in ("GTC", "IOC"):
        raise errors.bad_tif()
    return Leg(type_name, price, stop, tif, p.get(f"{where}ClientOrderId") or None)


def check_oco(side: Side, above: Leg, below: Leg, last: Decimal | None) -> None:
    """One leg takes profit (a limit maker or take-profit), the other stops the
    loss; their prices straddle the last trade in the order Binance requires."""
    if above.is_stop_loss == below.is_stop_loss:
        raise errors.ApiError(
            400, -1106, "One of the orders must be a stop-loss order, the other must not."
        )
    profit, loss = (below, above) if above.is_stop_loss else (above, below)
    assert loss.stop_price is not None
    trigger = profit.stop_price if profit.stop_price is not None else profit.price
    if last is None:
        ordered = trigger > loss.stop_price if side is Side.SELL else trigger < loss.stop_price
    elif side is Side.SELL:
        ordered = trigger > last > loss.stop_price
    else:
        ordered = trigger < last < loss.stop_price
    if not ordered:
        raise bad_price_relationship()

"""The shared vocabulary of bastion: instruments, market data, intents, orders,
fills and account snapshots.

Every other layer imports from here and nothing here imports from them. Money
(prices, quantities, balances, fees) is ``Decimal``; market observations used
by indicators are floats, converted to ``Decimal`` at the venue boundary.
Timestamps are integer milliseconds since the Unix epoch, UTC.
"""

from bastion.model.account import AccountSnapshot, Balance, Position
from bastion.model.bars import BarSeries, BarSource
from bastion.model.instrument import Instrument
from bastion.model.intents import (
    CancelOrders,
    Intent,
    PlaceOrder,
    QuoteLevel,
    TargetPosition,
    TargetQuotes,
)
from bastion.model.market import Bar, BookLevel, BookSnapshot, BookTop, Quote, Trade
from bastion.model.money import ZERO, to_decimal
from bastion.model.orders import (
    CancelRequest,
    Fill,
    Liquidity,
    OrderReport,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    StopKind,
    StrategyRef,
    TimeInForce,
)

__all__ = [
    "ZERO",
    "AccountSnapshot",
    "Balance",
    "Bar",
    "BarSeries",
    "BarSource",
    "BookLevel",
    "BookSnapshot",
    "BookTop",
    "CancelOrders",
    "CancelRequest",
    "Fill",
    "Instrument",
    "Intent",
    "Liquidity",
    "OrderReport",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "PlaceOrder",
    "Position",
    "Quote",
    "QuoteLevel",
    "Side",
    "StopKind",
    "StrategyRef",
    "TargetPosition",
    "TargetQuotes",
    "TimeInForce",
    "Trade",
    "to_decimal",
]

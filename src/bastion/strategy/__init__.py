"""Strategy API: a pure ``decide(view, account, memory) -> (intents, memory)``.

Everything a strategy author needs is importable from here (see
docs/strategies.md): the base class, the intents, the indicators and the view.
"""

from bastion.model import (
    AccountSnapshot,
    CancelOrders,
    Intent,
    OrderType,
    PlaceOrder,
    QuoteLevel,
    Side,
    TargetPosition,
    TargetQuotes,
)
from bastion.model.bands import Bollinger, Donchian, LogReturnVol, ZScore
from bastion.model.indicators import ATR, EMA, SMA, VWAP, IndicatorSpec, RollingStd
from bastion.model.momentum import MACD, RSI, Stochastic
from bastion.model.view import History, MarketView, PastBar, SymbolView
from bastion.strategy.base import Strategy, parse_params
from bastion.strategy.guard import StrategyViolation, guarded_decide
from bastion.strategy.registry import STRATEGIES, build_strategy

__all__ = [
    "ATR",
    "EMA",
    "MACD",
    "RSI",
    "SMA",
    "STRATEGIES",
    "VWAP",
    "AccountSnapshot",
    "Bollinger",
    "CancelOrders",
    "Donchian",
    "History",
    "IndicatorSpec",
    "Intent",
    "LogReturnVol",
    "MarketView",
    "OrderType",
    "PastBar",
    "PlaceOrder",
    "QuoteLevel",
    "RollingStd",
    "Side",
    "Stochastic",
    "Strategy",
    "StrategyViolation",
    "SymbolView",
    "TargetPosition",
    "TargetQuotes",
    "ZScore",
    "build_strategy",
    "guarded_decide",
    "parse_params",
]

"""Strategy API: a pure ``decide(view, account, memory) -> (intents, memory)``."""

from bastion.model.indicators import ATR, EMA, SMA, VWAP, RollingStd
from bastion.model.view import MarketView, SymbolView
from bastion.strategy.base import Strategy, parse_params
from bastion.strategy.guard import StrategyViolation, guarded_decide
from bastion.strategy.registry import STRATEGIES, build_strategy

__all__ = [
    "ATR",
    "EMA",
    "SMA",
    "STRATEGIES",
    "VWAP",
    "MarketView",
    "RollingStd",
    "Strategy",
    "StrategyViolation",
    "SymbolView",
    "build_strategy",
    "guarded_decide",
    "parse_params",
]

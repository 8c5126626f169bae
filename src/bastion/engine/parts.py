"""The parts every bot is assembled from, built the same way for a backtest
and for a paper or live session, from the same config."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bastion.config import BotConfig
from bastion.data.gate import DataGate, Sink
from bastion.engine.cycle import StrategySlot
from bastion.engine.protective import Memory, Protector
from bastion.execution.protect import Protection
from bastion.risk import HaltLatch, RiskGate, RiskLimits, default_rules
from bastion.strategy import Strategy
from bastion.strategy.loader import load_strategy_class
from bastion.strategy.registry import STRATEGIES
from bastion.venues.capabilities import OCO, STOP_LIMIT, capabilities


def data_gate(
    intervals: Mapping[str, int],
    strategies: Sequence[Strategy[Any, Any]],
    config: BotConfig,
    sink: Sink,
) -> DataGate:
    """A gate over ``intervals`` (symbol -> bar ms) maintaining every indicator the
    strategies ask for; data older than ``[data] max_age_s`` (default: two bars)
    is stale."""
    specs = {s: [spec for st in strategies for spec in st.indicators(s)] for s in intervals}
    max_age = config.data.max_age_s
    return DataGate(
        dict(intervals),
        max_age_ms=int(max_age * 1000) if max_age else 2 * max(intervals.values()),
        sink=sink,
        indicators=specs,
    )


def risk_gate(config: BotConfig, latch: HaltLatch | None = None) -> RiskGate:
    """The default rules with the ``[risk]`` limits; shorting only with margin.

    The gate keeps its own per-bar volume window (its tape), so its volume
    indicator is not registered with the data gate as well."""
    limits = RiskLimits.from_config(
        config.risk, allow_short=config.risk.allow_short or config.venue.margin
    )
    return RiskGate(default_rules(limits), latch or HaltLatch(), limits=limits)


def slots(strategies: Sequence[Strategy[Any, Any]]) -> list[StrategySlot]:
    return [
        StrategySlot(strategy=s, memory=s.initial_memory(), index=i)
        for i, s in enumerate(strategies)
    ]


def protector(
    config: BotConfig, strategies: Sequence[Strategy[Any, Any]], memory: Memory | None = None
) -> Protector | None:
    """The ``[strategies.protect]`` rules by (strategy id, symbol) for the strategies
    that trade; None when no strategy is protected (the cycle then skips its
    protection steps). ``memory`` keeps stop-outs across restarts (a session's
    order store); a backtest keeps them in memory."""
    ids = {s.ref.id: set(s.symbols) for s in strategies}
    rules: dict[tuple[str, str], Protection] = {}
    for entry in config.strategies:
        if entry.protect is None:
            continue
        sid = entry.id or _default_id(entry.name)
        for sym in entry.symbols:
            if sym in ids.get(sid, ()):
                p = entry.protect
                rules[(sid, sym)] = Protection(
                    stop_pct=p.stop_pct, limit_pct=p.limit_pct, take_profit_pct=p.take_profit_pct
                )
    if not rules:
        return None
    return Protector(rules, memory or Memory())


def _default_id(name: str) -> str:
    """The id a ``[[strategies]]`` entry without one gets: its class's name."""
    try:
        return load_strategy_class(name, STRATEGIES).name
    except (ValueError, ImportError, OSError):
        return name


def protect_refusal(config: BotConfig) -> str | None:
    """Why the exchange cannot hold what ``[strategies.protect]`` asks for, or None."""
    caps = capabilities(config.exchange.id)
    for entry in config.strategies:
        p = entry.protect
        if p is None:
            continue
        need = STOP_LIMIT if p.take_profit_pct is None else OCO
        if need not in caps.order_types:
            kind = "stop-limit" if need == STOP_LIMIT else "OCO (take_profit_pct)"
            return (
                f"strategies.{entry.id or entry.name}.protect: {config.exchange.id} takes no "
                f"{kind} orders from bastion (its capability table)"
            )
    return None

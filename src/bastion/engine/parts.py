"""The parts every bot is assembled from, built the same way for a backtest
and for a paper or live session, from the same config."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bastion.config import BotConfig
from bastion.data.gate import DataGate, Sink
from bastion.engine.cycle import StrategySlot
from bastion.risk import HaltLatch, RiskGate, RiskLimits, default_rules
from bastion.strategy import Strategy


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

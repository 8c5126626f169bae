"""Helpers for risk scenarios run through the real cycle and the simulated venue:
a scripted strategy, a driver that exposes every cycle, and a spy on reviews."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from bastion.config import BotConfig, parse_config
from bastion.engine.backtest import build_bot
from bastion.engine.cycle import Bot, run_cycle
from bastion.model import AccountSnapshot, BarSeries, Intent, OrderRequest
from bastion.model.view import MarketView
from bastion.risk import Decision, Exposure, RiskContext
from bastion.strategy import Strategy
from bastion.venues.sim import SimVenue

T0 = 1_704_067_200_000
MINUTE = 60_000

Script = Callable[[int, MarketView, AccountSnapshot], Sequence[Intent]]


@dataclass(frozen=True, slots=True)
class ScriptParams:
    tag: str = "scripted"


class Scripted(Strategy[ScriptParams, int]):
    """Intents from a pure function of (cycle number, view, account); the cycle
    number is the strategy's memory, so the strategy stays pure."""

    name = "scripted"
    Params = ScriptParams

    def __init__(self, symbols: Sequence[str], script: Script, tag: str = "scripted") -> None:
        super().__init__(ScriptParams(tag), symbols, instance_id=tag)
        self._script = script

    def initial_memory(self) -> int:
        return 0

    def decide(
        self, view: MarketView, account: AccountSnapshot, memory: int
    ) -> tuple[Sequence[Intent], int]:
        return self._script(memory, view, account), memory + 1


def config(**risk: Any) -> BotConfig:
    return parse_config({"risk": risk, "venue": {"fee_bps": 0}})


def bars(
    closes: Sequence[float] | np.ndarray,
    *,
    symbol: str = "SYN/USDT",
    volume: float = 1_000.0,
    interval_ms: int = MINUTE,
    start: int = T0,
) -> BarSeries:
    close = np.asarray(closes, dtype=np.float64)
    open_ = np.concatenate([[close[0]], close[:-1]])
    return BarSeries(
        symbol=symbol,
        interval_ms=interval_ms,
        ts=start + np.arange(len(close), dtype=np.int64) * interval_ms,
        open=open_,
        high=np.maximum(open_, close),
        low=np.minimum(open_, close),
        close=close,
        volume=np.full(len(close), volume),
        source="test:risk",
        synthetic=True,
    )


@dataclass
class Reviewed:
    """What the spy saw at one review: the context after it and the decisions."""

    now: int
    ctx: RiskContext
    decisions: list[Decision]
    before: dict[str, Exposure]

    def gross_before(self, symbols: frozenset[str]) -> Decimal:
        """Worst-case gross of ``symbols`` before the review, at the same marks."""
        total = Decimal(0)
        for s in symbols:
            e = self.before.get(s)
            if e is not None:
                total += e.worst_abs * self.ctx.valuation(s)
        return total


@dataclass
class Run:
    bot: Bot
    venue: SimVenue
    journal: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    reviews: list[Reviewed] = field(default_factory=list)

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [p for k, _ts, p in self.journal if k == kind]

    def reasons(self) -> set[str]:
        return {p["reason"] for p in self.kinds("risk_decision") if p.get("reason")}


def build(
    series: Sequence[BarSeries],
    strategies: Sequence[Strategy[Any, Any]],
    cfg: BotConfig,
    journal: Callable[[str, int, dict[str, Any]], None] | None = None,
) -> Run:
    events: list[tuple[str, int, dict[str, Any]]] = []

    def sink(kind: str, ts: int, payload: dict[str, Any]) -> None:
        events.append((kind, ts, payload))
        if journal is not None:
            journal(kind, ts, payload)

    bot, venue = build_bot(series, strategies, cfg, sink)
    run = Run(bot=bot, venue=venue, journal=events)
    review = bot.risk.review

    def spy(requests: Sequence[OrderRequest], ctx: RiskContext) -> list[Decision]:
        before = copy.deepcopy(ctx.exposure)
        out = review(requests, ctx)
        run.reviews.append(Reviewed(ctx.now, ctx, out, before))
        return out

    bot.risk.review = spy  # type: ignore[method-assign]
    return run


Hook = Callable[[int, int], None]  # (bar index, now)


def drive(
    run: Run,
    series: Sequence[BarSeries],
    *,
    before_cycle: Hook | None = None,
    after_cycle: Hook | None = None,
    after_bar: Hook | None = None,
) -> None:
    """Feed bars in time order and run one cycle per timestamp, as backtests do."""
    timeline = np.unique(np.concatenate([s.ts for s in series])).tolist()
    index: list[Mapping[int, int]] = [{int(t): i for i, t in enumerate(s.ts)} for s in series]
    interval = min(s.interval_ms for s in series)
    bot, venue = run.bot, run.venue
    for k, t in enumerate(timeline):
        for s, idx in zip(series, index, strict=True):
            i = idx.get(t)
            if i is None:
                continue
            bar = (float(s.open[i]), float(s.high[i]), float(s.low[i]), float(s.close[i]))
            venue.on_bar(s.symbol, t, *bar, float(s.volume[i]))
            bot.gate.on_bar(s.symbol, t, *bar, float(s.volume[i]))
        now = t + interval
        venue.set_time(now)
        if after_bar is not None:
            after_bar(k, now)
        if before_cycle is not None:
            before_cycle(k, now)
        run_cycle(bot, now)
        if after_cycle is not None:
            after_cycle(k, now)


def held(run: Run) -> dict[str, Decimal]:
    acct = run.venue.fetch_account()
    return {s: p.qty for s, p in acct.positions.items()}

"""A small harness for testing your own strategy (public API).

A strategy is a pure function of (view, account, memory), so testing it needs
no exchange and no clock, only inputs. ``StrategyHarness`` holds a real data
gate (the view the bot itself would build, indicators included), feeds it the
bars you give, and calls ``decide`` with a fixed account at a fixed time::

    from bastion.testing import StrategyHarness, account, assert_pure, synthetic_bars

    h = StrategyHarness(MyStrategy(MyStrategy.Params(), ["BTC/USDT"]))
    h.feed(synthetic_bars(200, seed=1, symbol="BTC/USDT"))
    intents = h.decide(account(cash="10000"))
    assert_pure(MyStrategy(MyStrategy.Params(), ["BTC/USDT"]), synthetic_bars(500, seed=2))

``backtest`` runs the whole bot (risk, execution, simulated venue) over bars
and returns the summary, as ``bastion backtest`` would write it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from bastion.config import BotConfig, parse_config
from bastion.data.gate import DataGate
from bastion.data.synthetic import random_walk_bars
from bastion.model import AccountSnapshot, Balance, BarSeries, Intent, Position
from bastion.model.view import MarketView
from bastion.strategy import Strategy, StrategyViolation, guarded_decide

__all__ = [
    "StrategyHarness",
    "StrategyViolation",
    "account",
    "assert_pure",
    "backtest",
    "synthetic_bars",
]

Bar = tuple[int, float, float, float, float, float]  # ts, open, high, low, close, volume


def synthetic_bars(
    n: int,
    *,
    seed: int,
    symbol: str = "SYN/USDT",
    start_price: float = 100.0,
    sigma: float = 0.002,
    interval_ms: int = 60_000,
) -> BarSeries:
    """A seeded random walk of ``n`` bars: the same seed, the same market."""
    return random_walk_bars(
        n,
        seed=seed,
        symbol=symbol,
        start_price=start_price,
        sigma=sigma,
        interval_ms=interval_ms,
    )


def account(
    cash: Decimal | str | int = Decimal(10_000),
    *,
    quote: str = "USDT",
    positions: Mapping[str, Decimal | str | int] | None = None,
    ts: int = 0,
) -> AccountSnapshot:
    """A fixed account: ``cash`` of ``quote`` and ``positions`` (symbol -> qty)."""
    balances = {quote: Balance(asset=quote, free=Decimal(str(cash)))}
    held: dict[str, Position] = {}
    for sym, qty in (positions or {}).items():
        q = Decimal(str(qty))
        held[sym] = Position(symbol=sym, qty=q)
        base = sym.partition("/")[0]
        balances[base] = Balance(asset=base, free=q)
    return AccountSnapshot(ts=ts, quote_asset=quote, balances=balances, positions=held)


class StrategyHarness:
    """A strategy, the view it reads and its memory; you supply bars and accounts."""

    def __init__(
        self,
        strategy: Strategy[Any, Any],
        *,
        interval_ms: int = 60_000,
        guard: bool = True,
        max_age_ms: int | None = None,
    ) -> None:
        self.strategy = strategy
        self.interval_ms = interval_ms
        self.guard = guard
        self.gate = DataGate(
            dict.fromkeys(strategy.symbols, interval_ms),
            max_age_ms=max_age_ms or 2 * interval_ms,
            sink=self._record,
            indicators={s: list(strategy.indicators(s)) for s in strategy.symbols},
        )
        self.memory: Any = strategy.initial_memory()
        self.events: list[tuple[str, int, dict[str, Any]]] = []  # refused bars, gaps
        self.now = 0

    def _record(self, kind: str, ts: int, payload: dict[str, Any]) -> None:
        self.events.append((kind, ts, payload))

    def bar(
        self, symbol: str, ts: int, o: float, h: float, low: float, c: float, v: float = 1.0
    ) -> None:
        """Feed one completed bar; the clock moves to its close."""
        self.gate.on_bar(symbol, ts, o, h, low, c, v)
        self.now = max(self.now, ts + self.interval_ms)

    def feed(self, bars: BarSeries | Iterable[Bar], symbol: str | None = None) -> None:
        """Feed many bars (a ``BarSeries`` or (ts, o, h, l, c, v) tuples) without deciding."""
        if isinstance(bars, BarSeries):
            sym = symbol or bars.symbol
            rows: Iterable[Bar] = zip(
                bars.ts.tolist(),
                bars.open.tolist(),
                bars.high.tolist(),
                bars.low.tolist(),
                bars.close.tolist(),
                bars.volume.tolist(),
                strict=True,
            )
        else:
            sym = symbol or self.strategy.symbols[0]
            rows = bars
        for row in rows:
            self.bar(sym, *row)

    @property
    def view(self) -> MarketView:
        return self.gate.view_at(self.now)

    def decide(self, acct: AccountSnapshot | None = None, now: int | None = None) -> list[Intent]:
        """One decision at ``now`` (default: the newest bar's close); keeps the memory."""
        if now is not None:
            self.now = now
        view = self.gate.view_at(self.now)
        snapshot = acct if acct is not None else account(ts=self.now)
        if self.guard:
            intents, self.memory = guarded_decide(self.strategy, view, snapshot, self.memory)
        else:
            intents, self.memory = self.strategy.decide(view, snapshot, self.memory)
        return list(intents)

    def run(
        self, bars: BarSeries, acct: AccountSnapshot | None = None
    ) -> list[tuple[int, list[Intent]]]:
        """Decide after every bar of ``bars``; returns (decision time, intents) where
        there were any. The account stays fixed: this tests decisions, not fills."""
        out: list[tuple[int, list[Intent]]] = []
        for row in zip(
            bars.ts.tolist(),
            bars.open.tolist(),
            bars.high.tolist(),
            bars.low.tolist(),
            bars.close.tolist(),
            bars.volume.tolist(),
            strict=True,
        ):
            self.bar(bars.symbol, *row)
            intents = self.decide(acct)
            if intents:
                out.append((self.now, intents))
        return out


def assert_pure(
    make: Any,
    bars: BarSeries,
    acct: AccountSnapshot | None = None,
) -> list[tuple[int, list[Intent]]]:
    """Run a strategy over ``bars`` under the purity guard, twice, and check it
    decided the same both times. ``make`` is a strategy or a zero-argument
    factory (a fresh instance for each run). Raises ``StrategyViolation`` on a
    clock read, I/O or mutation, ``AssertionError`` when the two runs differ.
    Returns the decisions of the first run."""
    runs = []
    for _ in range(2):
        strategy = make() if callable(make) and not isinstance(make, Strategy) else make
        runs.append(StrategyHarness(strategy, interval_ms=bars.interval_ms).run(bars, acct))
    if runs[0] != runs[1]:
        first = next(
            (i for i, (a, b) in enumerate(zip(runs[0], runs[1], strict=False)) if a != b),
            min(len(runs[0]), len(runs[1])),
        )
        raise AssertionError(
            f"same inputs, different intents: the runs part at decision {first} "
            "(unseeded randomness or state kept outside memory?)"
        )
    return runs[0]


def backtest(
    strategies: Strategy[Any, Any] | Sequence[Strategy[Any, Any]],
    bars: BarSeries | Sequence[BarSeries],
    *,
    config: BotConfig | Mapping[str, Any] | None = None,
    guard: bool = False,
) -> dict[str, Any]:
    """The whole bot over ``bars`` (no files written); returns the summary dict."""
    from bastion.engine.backtest import run_backtest

    strats = [strategies] if isinstance(strategies, Strategy) else list(strategies)
    series = [bars] if isinstance(bars, BarSeries) else list(bars)
    if config is None:
        cfg = BotConfig()
    elif isinstance(config, BotConfig):
        cfg = config
    else:
        cfg = parse_config(dict(config), "bastion.testing.backtest")
    return run_backtest(series, strats, cfg, guard=guard).summary

"""The public harness, ``bastion.testing``: what it catches and what it feeds."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from bastion.strategy import SMA, History, Strategy, StrategyViolation, TargetPosition
from bastion.testing import StrategyHarness, account, assert_pure, backtest, synthetic_bars

SYM = "BTC/USDT"
MIN = 60_000


@dataclass(frozen=True, slots=True, kw_only=True)
class P:
    n: int = 3


class Counter(Strategy):
    """Keeps a counter outside its memory: the same inputs give other intents."""

    name = "counter"
    Params = P
    calls = 0

    def initial_memory(self):
        return None

    def decide(self, view, account, memory):
        Counter.calls += 1
        return [TargetPosition(symbol=SYM, qty=Decimal(Counter.calls))], memory


class Mutator(Strategy):
    name = "mutator"
    Params = P

    def initial_memory(self):
        return {"seen": []}

    def decide(self, view, account, memory):
        memory["seen"].append(view.now)
        return [], memory


class Windowed(Strategy):
    name = "windowed"
    Params = P

    def indicators(self, symbol):
        return (History(self.params.n), SMA(2))

    def initial_memory(self):
        return None

    def decide(self, view, account, memory):
        return [], memory


def test_state_kept_outside_memory_is_caught() -> None:
    with pytest.raises(AssertionError, match="same inputs, different intents"):
        assert_pure(lambda: Counter(P(), [SYM]), synthetic_bars(50, seed=1, symbol=SYM))


def test_mutating_memory_is_caught() -> None:
    with pytest.raises(StrategyViolation, match="mutated its memory"):
        assert_pure(lambda: Mutator(P(), [SYM]), synthetic_bars(10, seed=1, symbol=SYM))


def test_the_harness_feeds_bars_at_a_fixed_clock() -> None:
    h = StrategyHarness(Windowed(P(n=3), [SYM]))
    for i, c in enumerate([10.0, 11.0, 12.0, 13.0]):
        h.bar(SYM, i * MIN, c, c + 1, c - 1, c, 5.0)

    view = h.view
    assert view.now == 4 * MIN
    assert [b.close for b in view.history(SYM, 3)] == [11.0, 12.0, 13.0]
    assert [b.ts for b in view.history(SYM, 2)] == [2 * MIN, 3 * MIN]
    assert view[SYM].value(SMA(2)) == 12.5
    with pytest.raises(KeyError, match=r"history of 4 bars was not requested \(kept: 3\)"):
        view.history(SYM, 4)


def test_history_is_a_copy_and_short_at_the_start() -> None:
    h = StrategyHarness(Windowed(P(n=5), [SYM]))
    h.bar(SYM, 0, 1.0, 1.0, 1.0, 1.0)

    first = h.view.history(SYM, 5)
    h.bar(SYM, MIN, 2.0, 2.0, 2.0, 2.0)

    assert len(first) == 1 and first[0].close == 1.0
    assert isinstance(first, tuple)
    assert [b.close for b in h.view.history(SYM, 5)] == [1.0, 2.0]


def test_history_keeps_gaps_as_gaps() -> None:
    h = StrategyHarness(Windowed(P(n=3), [SYM]))
    for t in (0, MIN, 5 * MIN):
        h.bar(SYM, t, 1.0, 1.0, 1.0, 1.0)

    assert [b.ts for b in h.view.history(SYM, 3)] == [0, MIN, 5 * MIN]
    assert h.events[0][0] == "data_gap"


def test_account_factory() -> None:
    acct = account("2500", positions={SYM: "0.3"})

    assert acct.cash() == Decimal(2500)
    assert acct.position(SYM) == Decimal("0.3")


def test_backtest_returns_the_summary() -> None:
    from bastion.strategy import build_strategy

    summary = backtest(
        build_strategy("sma_cross", [SYM], {"qty": "0.5"}),
        synthetic_bars(3_000, seed=2, symbol=SYM),
        config={"backtest": {"cash": "50000"}},
    )
    assert summary["initial_equity"] == 50_000.0
    assert summary["fills"] > 0

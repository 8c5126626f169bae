"""Strategies: same inputs, same intents; the purity guard; parameters and versions."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest

from bastion.config import BotConfig
from bastion.data.gate import DataGate
from bastion.engine.backtest import BacktestResult, run_backtest
from bastion.model import AccountSnapshot, Balance, BarSeries, TargetPosition
from bastion.model.indicators import SMA
from bastion.model.view import MarketView
from bastion.observe.journal import read_events
from bastion.strategy import Strategy, StrategyViolation, build_strategy, guarded_decide

D = Decimal
SYM = "BTC/USDT"
T0 = 1_704_067_200_000
MINUTE = 60_000
EXAMPLES: dict[str, dict[str, Any]] = {
    "sma_cross": {"fast": 5, "slow": 20, "qty": "0.1"},
    "bollinger": {"period": 20, "k": 1.5, "qty": "0.1"},
    "quoter": {"spread_bps": 10, "qty": "0.01", "max_inventory": "0.05", "requote_bps": 2},
}


# ------------------------------------------------------------------ factories
def walk(n: int = 800, seed: int = 11) -> BarSeries:
    """A seeded geometric random walk with wicks, prices in cents."""
    rng = np.random.default_rng(seed)
    close = np.round(30_000 * np.exp(np.cumsum(rng.normal(0, 0.002, n))), 2)
    open_ = np.concatenate([[30_000.0], close[:-1]])
    wick = np.round(np.abs(rng.normal(0, 20, (2, n))), 2)
    return BarSeries(
        symbol=SYM,
        interval_ms=MINUTE,
        ts=T0 + np.arange(n, dtype=np.int64) * MINUTE,
        open=open_,
        high=np.maximum(open_, close) + wick[0],
        low=np.minimum(open_, close) - wick[1],
        close=close,
        volume=np.round(rng.uniform(1, 20, n), 3),
        source="test:walk",
        synthetic=True,
    )


def backtest(name: str, path: Path, *, guard: bool = False) -> BacktestResult:
    strategy = build_strategy(name, [SYM], EXAMPLES[name])
    return run_backtest([walk()], [strategy], BotConfig(), journal_path=path, guard=guard)


def journal_rows(path: Path) -> list[tuple[Any, ...]]:
    return [
        (e["seq"], e["ts"], e["kind"], sorted((k, repr(v)) for k, v in e.items()))
        for e in read_events(path)
    ]


def stable(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k not in ("elapsed_s", "bars_per_s")}


def view_and_account(warm: bool = True) -> tuple[MarketView, AccountSnapshot]:
    """A view as the data gate leaves it (an SMA(3) full when ``warm``) and an
    account as the venue reports it (read-only mappings)."""
    gate = DataGate(
        {SYM: MINUTE}, max_age_ms=2 * MINUTE, sink=lambda *_: None, indicators={SYM: [SMA(3)]}
    )
    for i in range(3 if warm else 1):
        gate.on_bar(SYM, T0 + i * MINUTE, 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 5.0)
    view = gate.view_at(T0 + (3 if warm else 1) * MINUTE)
    account = AccountSnapshot(
        ts=view.now,
        quote_asset="USDT",
        balances=MappingProxyType({"USDT": Balance(asset="USDT", free=D(1000))}),
    )
    return view, account


@dataclass(frozen=True)
class Act:
    """What the test strategy does inside ``decide``."""

    do: Callable[[MarketView, AccountSnapshot, dict[str, int]], object]


class Scripted(Strategy[Act, dict[str, int]]):
    name = "scripted"
    Params = Act

    def initial_memory(self) -> dict[str, int]:
        return {"n": 0}

    def decide(
        self, view: MarketView, account: AccountSnapshot, memory: dict[str, int]
    ) -> tuple[list[TargetPosition], dict[str, int]]:
        self.params.do(view, account, memory)
        return [TargetPosition(symbol=SYM, qty=D(0))], {"n": memory["n"] + 1}


def scripted(do: Callable[[MarketView, AccountSnapshot, dict[str, int]], object]) -> Scripted:
    return Scripted(Act(do), [SYM])


# --------------------------------------------------------------- determinism
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_example_strategy_is_deterministic_over_the_same_bars(
    name: str, tmp_path: Path
) -> None:
    first = backtest(name, tmp_path / "a.sqlite")

    second = backtest(name, tmp_path / "b.sqlite")

    rows_a, rows_b = journal_rows(tmp_path / "a.sqlite"), journal_rows(tmp_path / "b.sqlite")
    assert rows_a == rows_b
    assert stable(first.summary) == stable(second.summary)
    assert [(s, f) for s, f in first.fills] == [(s, f) for s, f in second.fills]
    kinds = [r[2] for r in rows_a]
    assert kinds.count("fill") > 0  # the runs traded, so the comparison means something
    assert any(r[2] == "cycle" and "intents" in dict(r[3]) for r in rows_a)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_example_strategy_passes_the_purity_guard_unchanged(name: str, tmp_path: Path) -> None:
    plain = backtest(name, tmp_path / "plain.sqlite")

    guarded = backtest(name, tmp_path / "guarded.sqlite", guard=True)

    assert stable(guarded.summary) == stable(plain.summary)
    assert guarded.fills == plain.fills


# --------------------------------------------------------------- the guard
def _open_for_writing(path: Path) -> Callable[..., object]:
    return lambda *_: path.open("w")


IMPURE: dict[str, Callable[[MarketView, AccountSnapshot, dict[str, int]], object]] = {
    "time.time": lambda *_: time.time(),
    "time.monotonic": lambda *_: time.monotonic(),
    "time.perf_counter": lambda *_: time.perf_counter(),
    "datetime.now": lambda *_: dt.datetime.now(dt.UTC),
    "datetime.utcnow": lambda *_: dt.datetime.utcnow(),
    "date.today": lambda *_: dt.date.today(),
    "random.random": lambda *_: random.random(),
    "random.randint": lambda *_: random.randint(1, 6),
    "random.choice": lambda *_: random.choice([1, 2, 3]),
    "os.urandom": lambda *_: os.urandom(4),
    "socket": lambda *_: socket.socket(),
    "subprocess": lambda *_: subprocess.run(["true"], check=False),
    "os.system": lambda *_: os.system("true"),
    "memory mutated in place": lambda _v, _a, memory: memory.update(n=99),
    "view.now set": lambda view, _a, _m: setattr(view, "now", view.now + 1),
    "symbol view close set": lambda view, _a, _m: setattr(view[SYM], "close", 1.0),
    "indicator fed": lambda view, _a, _m: view[SYM].indicator(SMA(3)).update(1, 1, 1, 1, 1),
    "account field forced": lambda _v, account, _m: object.__setattr__(account, "ts", 0),
    "balance forced": lambda _v, account, _m: object.__setattr__(
        account.balances["USDT"], "free", D(10**9)
    ),
}


@pytest.mark.parametrize("what", sorted(IMPURE))
def test_the_guard_rejects_an_impure_strategy(what: str) -> None:
    view, account = view_and_account()
    strategy = scripted(IMPURE[what])
    profile_before = sys.getprofile()

    with pytest.raises(StrategyViolation):
        guarded_decide(strategy, view, account, {"n": 0})

    assert sys.getprofile() is profile_before  # the guard cleaned up after itself


def test_the_guard_refuses_a_file_before_it_is_opened_and_is_off_afterwards(
    tmp_path: Path,
) -> None:
    view, account = view_and_account()
    target = tmp_path / "leak.txt"

    with pytest.raises(StrategyViolation, match="I/O"):
        guarded_decide(scripted(_open_for_writing(target)), view, account, {"n": 0})

    assert not target.exists()
    (tmp_path / "after.txt").write_text("ok")  # outside decide, I/O works again
    assert (tmp_path / "after.txt").read_text() == "ok"


def test_the_guard_rejects_a_strategy_that_swallows_the_io_refusal(tmp_path: Path) -> None:
    def sneaky(*_: object) -> None:
        with contextlib.suppress(Exception):  # "no cache yet, never mind"
            (tmp_path / "cache.json").read_text()

    view, account = view_and_account()
    (tmp_path / "cache.json").write_text("{}")

    with pytest.raises(StrategyViolation, match="I/O"):
        guarded_decide(scripted(sneaky), view, account, {"n": 0})


def test_the_guard_rejects_changes_to_the_symbol_views_interval() -> None:
    view, account = view_and_account()

    with pytest.raises(StrategyViolation, match="view"):
        guarded_decide(
            scripted(lambda v, *_: setattr(v[SYM], "interval_ms", 1)), view, account, {"n": 0}
        )


def test_the_guard_rejects_feeding_an_indicator_whose_window_is_not_full_yet() -> None:
    view, account = view_and_account(warm=False)  # SMA(3) has seen one bar: value None
    feed = scripted(lambda v, *_: v[SYM].indicator(SMA(3)).update(1.0, 1.0, 1.0, 1.0, 1.0))

    with pytest.raises(StrategyViolation, match="view"):
        guarded_decide(feed, view, account, {"n": 0})


def test_direct_edits_of_the_account_and_view_fail_loudly_and_change_nothing() -> None:
    view, account = view_and_account()
    before = (view.fingerprint(), repr(account))

    with pytest.raises(FrozenInstanceError):
        account.ts = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        account.balances["USDT"] = Balance(asset="USDT", free=D(0))  # type: ignore[index]
    with pytest.raises(AttributeError):
        view.extra = 1  # type: ignore[attr-defined]

    assert (view.fingerprint(), repr(account)) == before


def test_the_guard_accepts_a_pure_strategy_with_its_own_seeded_rng() -> None:
    view, account = view_and_account()
    strategy = scripted(lambda v, _a, _m: random.Random(v.now).random())

    intents, memory = guarded_decide(strategy, view, account, {"n": 0})

    assert list(intents) == [TargetPosition(symbol=SYM, qty=D(0))]
    assert memory == {"n": 1}


# ------------------------------------------------------------ sma_cross rules
def test_sma_cross_trades_on_sign_changes_only_and_ignores_exact_ties() -> None:
    # fast=2, slow=3 over closes 1, 2, 3, 1, 0, 9:
    #   bar 3: fast 2.5 > slow 2       first defined sign (+), no cross yet
    #   bar 4: fast 2   = slow 2       an exact tie: ignored, the sign stays +
    #   bar 5: fast 0.5 < slow 1.33    a cross down: flat
    #   bar 6: fast 4.5 > slow 3.33    a cross up: long
    strategy = build_strategy("sma_cross", [SYM], {"fast": 2, "slow": 3, "qty": "0.1"})
    gate = DataGate(
        {SYM: MINUTE},
        max_age_ms=2 * MINUTE,
        sink=lambda *_: None,
        indicators={SYM: list(strategy.indicators(SYM))},
    )
    account = AccountSnapshot(ts=0, quote_asset="USDT")
    memory = strategy.initial_memory()
    decided = []

    for i, close in enumerate([1.0, 2.0, 3.0, 1.0, 0.0, 9.0]):
        gate.on_bar(SYM, T0 + i * MINUTE, close, close, close, close, 1.0)
        intents, memory = strategy.decide(gate.view_at(T0 + (i + 1) * MINUTE), account, memory)
        decided.append(list(intents))

    assert decided == [
        [],
        [],
        [],
        [],
        [TargetPosition(symbol=SYM, qty=D(0))],
        [TargetPosition(symbol=SYM, qty=D("0.1"))],
    ]


# ----------------------------------------------------------- params, version
@pytest.mark.parametrize(
    ("name", "params", "mentions"),
    [
        ("sma_cross", {"fast": "abc"}, ["fast", "'abc'", "int"]),
        ("sma_cross", {"fast": 2.5}, ["fast", "2.5", "int"]),
        ("sma_cross", {"qty": "lots"}, ["qty", "'lots'", "Decimal"]),
        ("sma_cross", {"fsat": 5}, ["fsat", "fast", "slow", "qty"]),
        ("sma_cross", {"fast": 60, "slow": 50}, ["fast=60", "slow=50"]),
        ("bollinger", {"k": "wide"}, ["k", "'wide'", "float"]),
        ("quoter", {"spread_bps": "x"}, ["spread_bps", "'x'", "Decimal"]),
    ],
)
def test_parse_params_errors_name_the_key_and_the_value(
    name: str, params: dict[str, Any], mentions: list[str]
) -> None:
    with pytest.raises(ValueError) as info:
        build_strategy(name, [SYM], params)

    message = str(info.value)
    assert name in message
    for word in mentions:
        assert word in message, (word, message)


def test_a_boolean_is_not_an_integer_parameter() -> None:
    with pytest.raises(ValueError, match="fast"):
        build_strategy("sma_cross", [SYM], {"fast": True})


def test_parameters_from_strings_and_toml_floats_are_exact() -> None:
    strategy = build_strategy("sma_cross", [SYM], {"fast": "10", "slow": "30", "qty": 0.1})

    assert (strategy.params.fast, strategy.params.slow, strategy.params.qty) == (10, 30, D("0.1"))


def test_an_integral_float_is_accepted_for_an_integer_parameter() -> None:
    strategy = build_strategy("sma_cross", [SYM], {"slow": 30.0})

    assert strategy.params.slow == 30


def test_unknown_strategy_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="bollinger, quoter, sma_cross"):
        build_strategy("nope", [SYM])


def test_version_hash_follows_params_and_symbols_but_not_the_instance_id() -> None:
    base = build_strategy("sma_cross", [SYM], {"fast": 10})

    same = build_strategy("sma_cross", [SYM], {"fast": "10"}, instance_id="other")
    changed = [
        build_strategy("sma_cross", [SYM], {"fast": 11}),
        build_strategy("sma_cross", [SYM], {"slow": 51, "fast": 10}),
        build_strategy("sma_cross", [SYM], {"fast": 10, "qty": "0.2"}),
        build_strategy("sma_cross", ["ETH/USDT"], {"fast": 10}),
    ]

    assert len(base.ref.version) == 12
    assert int(base.ref.version, 16) >= 0
    assert same.ref.version == base.ref.version
    assert same.ref.id == "other"
    assert len({s.ref.version for s in changed} | {base.ref.version}) == 5

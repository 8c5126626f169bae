"""Walk-forward: no test window's bars reach its training runs, the chosen
parameters are those a brute force over the grid picks, the stitched equity
compounds the test windows, and the warnings follow the documented rules.

Once on the three-month BTC file (skipped when absent) and once on a
synthetic market that is always there."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.research.support import BTC_3M, real_file
from typer.testing import CliRunner

from bastion.cli import app
from bastion.config import BotConfig
from bastion.data.loaders import load_bars
from bastion.engine.backtest import run_backtest
from bastion.engine.inputs import to_timeframe, window
from bastion.research.cluster import InProcess
from bastion.research.grid import expand
from bastion.research.runner import DataSpec
from bastion.research.select import DEGRADED_BELOW
from bastion.research.walkforward import WalkSpec, run_walkforward
from bastion.strategy import build_strategy

DAY = 86_400_000
GRID = {"fast": ["5", "10", "30"], "slow": ["20", "60"]}  # fast=30 slow=20 is refused


def brute_force_choice(path: Path, symbol: str | None, timeframe: str | None, fold: dict) -> Any:
    """Every grid point backtested on the fold's training window, straight through
    the engine (indicators warmed from the bars before it, as documented); the
    best Sharpe, first on a tie, a refused point ranking last."""
    bars = to_timeframe(load_bars(path, symbol=symbol), timeframe)
    start, end = fold["train"]
    train = window(bars, start, end)
    best, best_value = None, None
    for point in expand(GRID):
        try:
            strat = build_strategy("sma_cross", [bars.symbol], {"qty": "0.1", **point})
        except ValueError:
            continue
        hi = int(np.searchsorted(bars.ts, start))
        warm = bars.slice(max(0, hi - strat.warmup), hi)
        result = run_backtest([train], [strat], BotConfig(), warmup=[warm] if len(warm) else [])
        value = result.summary["sharpe"]
        if value is not None and (best_value is None or value > best_value):
            best, best_value = point, value
    return best


def check_walkforward(path: Path, symbol: str | None, timeframe: str | None) -> dict:
    spec = WalkSpec(
        config=BotConfig(),
        data=DataSpec(sources=(str(path),), symbol=symbol, timeframe=timeframe),
        grid=GRID,
        train_ms=30 * DAY,
        test_ms=15 * DAY,
        strategy="sma_cross",
        params={"qty": "0.1"},
    )
    result = run_walkforward(spec, InProcess())
    report = result.report
    folds = report["folds"]
    assert len(folds) >= 3

    for f in folds:
        train_start, _train_end = f["train"]
        test_start, test_end = f["test"]
        assert f["train_seen"][1] < test_start  # no test bar in any training run
        if f["index"] > 0:  # the first fold's window starts at the first bar: nothing before
            assert f["train_seen"][0] < train_start  # the warm-up came from before the window
        assert test_start <= f["test_seen"][1] < test_end
        assert f["failed"] == 1  # fast=30 slow=20, reported, the others ran
        assert f["chosen"] == brute_force_choice(path, symbol, timeframe, f)

    # Stitched out-of-sample equity: each fold's return, compounded.
    cash = float(BotConfig().backtest.cash)
    growth = np.prod([1 + f["out_of_sample"]["total_return"] for f in folds])
    assert result.oos_equity[-1] == pytest.approx(cash * growth, rel=1e-9)
    assert np.all(np.diff(result.oos_ts) > 0)
    assert sorted(set(result.oos_fold.tolist())) == [f["index"] for f in folds]

    # The warnings, recomputed from the folds' figures by the documented rules.
    ins = [f["in_sample"]["sharpe"] for f in folds]
    oos = [f["out_of_sample"]["sharpe"] for f in folds]
    pairs = [(a, b) for a, b in zip(ins, oos, strict=True) if a is not None and b is not None]
    is_mean = sum(a for a, _ in pairs) / len(pairs)
    oos_mean = sum(b for _, b in pairs) / len(pairs)
    codes = {w["code"] for w in report["warnings"]}
    if is_mean > 0:
        assert report["degradation_ratio"] == pytest.approx(oos_mean / is_mean)
    else:
        assert report["degradation_ratio"] is None
    assert ("NO_EDGE_IN_SAMPLE" in codes) == (is_mean <= 0)
    assert ("DEGRADED" in codes) == (is_mean > 0 and oos_mean / is_mean < DEGRADED_BELOW)
    assert ("SIGN_FLIP" in codes) == (sum(a > 0 > b for a, b in pairs) * 2 > len(pairs))

    # Every fold and the stitched curve are broken down by regime over their bars.
    for f in folds:
        bars = sum(r["bars"] for r in f["regimes"]["by_trend"].values())
        assert bars == (f["test"][1] - f["test"][0]) // 3_600_000  # hourly bars, no gap
    assert sum(r["bars"] for r in report["stitched"]["regimes"]["by_trend"].values()) == len(
        result.oos_equity
    )
    return report


@pytest.mark.realdata
@pytest.mark.slow
def test_walkforward_on_three_months_of_btc() -> None:
    check_walkforward(real_file(BTC_3M), None, "1h")


def test_walkforward_on_a_synthetic_market(synthetic_file: Path) -> None:
    check_walkforward(synthetic_file, "SYN/USDT", None)


def test_anchored_training_windows_all_start_at_the_first_bar(synthetic_file: Path) -> None:
    spec = WalkSpec(
        config=BotConfig(),
        data=DataSpec(sources=(str(synthetic_file),), symbol="SYN/USDT"),
        grid={"fast": ["5"], "slow": ["20"]},
        train_ms=30 * DAY,
        test_ms=30 * DAY,
        anchored=True,
        strategy="sma_cross",
    )
    folds = run_walkforward(spec, InProcess()).report["folds"]

    first = folds[0]["train"][0]
    assert [f["train"][0] for f in folds] == [first] * len(folds)
    assert [f["train"][1] for f in folds] == [f["test"][0] for f in folds]


def test_the_command_writes_its_report_and_refuses_bad_input(
    synthetic_file: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    base = ["walkforward", "--data", str(synthetic_file), "--symbol", "SYN/USDT",
            "--strategy", "sma_cross", "--workers", "0", "--out", str(tmp_path)]  # fmt: skip

    ok = runner.invoke(app, [*base, "--train", "30d", "--test", "30d", "--grid", "fast=5,10",
                             "--grid", "slow=20"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "in sample against out of sample" in ok.output
    page = (tmp_path / "walkforward.html").read_text()
    assert '<svg id="oos-equity"' in page and "id='folds'" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # opens offline
    assert (tmp_path / "oos_equity.csv").read_text().startswith("ts,fold,equity")

    for extra, says in (
        (["--train", "0d", "--grid", "fast=5"], "--train '0d'"),
        (["--train", "300d", "--grid", "fast=5"], "spans"),
        ([], "no grid"),
        (["--grid", "fast"], "expected KEY=V1,V2"),
        (["--grid", "fast=5", "--scheduler", "localhost:8786"], "expected tcp://HOST:PORT"),
        (["--grid", "fast=5", "--metric", "luck"], "--metric 'luck'"),
    ):
        bad = runner.invoke(app, [*base, *extra])
        assert bad.exit_code == 2, (extra, bad.output)
        assert says in bad.output
        assert "Traceback" not in bad.output
    missing = runner.invoke(app, ["walkforward", "--data", str(tmp_path / "nope.parquet"),
                                  "--grid", "fast=5"])  # fmt: skip
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_optuna_samples_the_grid_and_the_choice_is_the_best_it_saw(synthetic_file: Path) -> None:
    grid = {"fast": [str(v) for v in range(4, 16, 2)], "slow": [str(v) for v in range(20, 80, 10)]}
    spec = WalkSpec(
        config=BotConfig(),
        data=DataSpec(sources=(str(synthetic_file),), symbol="SYN/USDT"),
        grid=grid,
        train_ms=30 * DAY,
        test_ms=30 * DAY,
        search="optuna",
        trials=8,
        seed=3,
        strategy="sma_cross",
    )

    first = run_walkforward(spec, InProcess()).report
    again = run_walkforward(spec, InProcess()).report

    assert first["folds"] == again["folds"]  # seeded: the same trials, the same choice
    space = {tuple(p.values()) for p in expand(grid)}
    for f in first["folds"]:
        tried = f["grid"]
        assert 1 <= len(tried) <= 8  # a repeated proposal is not run twice
        assert all(tuple(t["point"].values()) in space for t in tried)
        values = [t["sharpe"] for t in tried]
        best = max((v for v in values if v is not None), default=None)
        assert f["chosen"] == tried[values.index(best)]["point"]
        assert f["train_seen"][1] < f["test"][0]

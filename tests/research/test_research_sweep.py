"""Sweeps on a real Dask cluster (a LocalCluster of two worker processes on
loopback): the results are those of running the same backtests one by one,
a failed point is reported with its parameters while the rest finish, and
the Parquet table and the heatmap page say the same."""

from __future__ import annotations

import math
import pickle
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from bastion.cli import app
from bastion.config import BotConfig
from bastion.data.loaders import load_bars
from bastion.engine.backtest import run_backtest
from bastion.research.cluster import DaskExecutor, InProcess
from bastion.research.grid import expand
from bastion.research.runner import DataSpec, Task
from bastion.research.sweep import SweepSpec, sweep_tasks
from bastion.research.table import METRICS
from bastion.strategy import build_strategy

GRID = {"fast": ["5", "10", "40"], "slow": ["20", "60"]}  # fast=40 slow=20 is refused

# A cluster takes seconds to start: one per test process, and the tests on one process.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dask")]


def one_by_one(path: Path) -> list[dict[str, Any] | None]:
    """Each grid point through the engine directly, in this process."""
    bars = load_bars(path, symbol="SYN/USDT")
    out: list[dict[str, Any] | None] = []
    for point in expand(GRID):
        try:
            strat = build_strategy("sma_cross", [bars.symbol], point)
        except ValueError:
            out.append(None)
            continue
        out.append(run_backtest([bars], [strat], BotConfig()).summary)
    return out


def test_a_sweep_on_two_workers_equals_the_backtests_run_one_by_one(
    scheduler: str, synthetic_file: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app,
        ["sweep", "--data", str(synthetic_file), "--symbol", "SYN/USDT", "--strategy",
         "sma_cross", "--grid", "fast=5,10,40", "--grid", "slow=20,60", "--scheduler",
         scheduler, "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "6 tasks on 2 worker(s), 1 failed" in result.output
    assert "fast=40 slow=20" in result.output

    table = pq.read_table(tmp_path / "sweep.parquet").to_pylist()
    expected = one_by_one(synthetic_file)
    assert [r["param.fast"] for r in table] == [p["fast"] for p in expand(GRID)]
    for row, summary in zip(table, expected, strict=True):
        if summary is None:
            assert row["status"] == "failed"
            assert row["error"].startswith("fast=40 slow=20: ValueError")
            assert all(row[m] is None for m in METRICS)
            continue
        assert row["status"] == "ok"
        for m in METRICS:
            want = summary.get(m)
            want = None if want is None or not math.isfinite(want) else float(want)
            assert row[m] == want, m
        assert row["return.trend_up"] == summary["regimes"]["by_trend"]["up"]["return"]
        assert row["return.vol_low"] == summary["regimes"]["by_volatility"]["low"]["return"]
    page = (tmp_path / "sweep.html").read_text()
    assert page.count('class="fail"') == 1 and "fast=40 slow=20" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # opens offline


def test_whole_summaries_from_the_cluster_equal_those_run_in_process(
    scheduler: str, synthetic_file: Path
) -> None:
    from distributed import Client

    spec = SweepSpec(
        config=BotConfig(),
        data=DataSpec(sources=(str(synthetic_file),), symbol="SYN/USDT"),
        grid={"fast": ["5", "10"], "slow": ["30"]},
        strategy="sma_cross",
        start_ms=None,
    )
    tasks = sweep_tasks(spec)
    assert all(len(pickle.dumps(t)) < 20_000 for t in tasks)  # a path travels, never the bars
    with Client(scheduler) as client:
        remote = DaskExecutor(client).run(tasks)
    local = InProcess().run(tasks)

    assert [r["summary"] for r in remote] == [r["summary"] for r in local]
    assert all(r["status"] == "ok" for r in remote)


class _Unloadable:
    """Pickles fine here, fails to unpickle on the cluster (``int("x")``): a task
    that fails inside Dask itself rather than inside the backtest."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (int, ("x",))

    def __str__(self) -> str:
        return "unloadable"


@pytest.mark.parametrize("chunk", [1, 3])  # alone, and in a batch that is then split
def test_a_task_dask_cannot_run_is_reported_with_its_parameters(
    scheduler: str, synthetic_file: Path, chunk: int
) -> None:
    from distributed import Client

    data = DataSpec(sources=(str(synthetic_file),), symbol="SYN/USDT")
    cfg = BotConfig().model_dump(mode="json")
    tasks = [
        Task(index=0, point={"fast": "5", "slow": "20"}, config=cfg, data=data,
             strategy="sma_cross"),
        Task(index=1, point={"fast": _Unloadable()}, config=cfg, data=data,
             strategy="sma_cross"),
        Task(index=2, point={"fast": "10", "slow": "20"}, config=cfg, data=data,
             strategy="sma_cross"),
    ]  # fmt: skip
    with Client(scheduler) as client:
        rows = DaskExecutor(client, chunk=chunk).run(tasks)

    assert [r["status"] for r in rows] == ["ok", "failed", "ok"]
    assert rows[1]["error"].startswith("fast=unloadable: RuntimeError: Error during deserial")
    assert "\n" not in rows[1]["error"]


def test_a_walkforward_on_the_cluster_equals_one_in_process(
    scheduler: str, synthetic_file: Path
) -> None:
    from distributed import Client

    from bastion.research.walkforward import WalkSpec, run_walkforward

    spec = WalkSpec(
        config=BotConfig(),
        data=DataSpec(sources=(str(synthetic_file),), symbol="SYN/USDT"),
        grid={"fast": ["4", "6", "8", "10"], "slow": ["20", "30", "40"]},
        train_ms=30 * 86_400_000,
        test_ms=30 * 86_400_000,
        search="optuna",
        trials=6,
        strategy="sma_cross",
    )
    with Client(scheduler) as client:
        remote = run_walkforward(spec, DaskExecutor(client))
    local = run_walkforward(spec, InProcess())

    assert remote.report["folds"] == local.report["folds"]
    assert remote.oos_equity.tolist() == local.oos_equity.tolist()


def test_a_strategy_from_a_file_runs_on_the_workers(
    scheduler: str, synthetic_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mine.py").write_text(
        "from bastion.strategy.examples.sma_cross import SmaCross\n\n\n"
        "class Mine(SmaCross):\n    name = 'mine'\n"
    )
    monkeypatch.chdir(tmp_path)  # the path is relative here; workers get it absolute

    result = CliRunner().invoke(
        app,
        ["sweep", "--data", str(synthetic_file), "--symbol", "SYN/USDT", "--strategy",
         "mine.py:Mine", "--grid", "fast=5,10", "--grid", "slow=20", "--scheduler", scheduler,
         "--out", str(tmp_path / "out")],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    table = pq.read_table(tmp_path / "out" / "sweep.parquet").to_pylist()
    assert [r["status"] for r in table] == ["ok", "ok"]
    reference = one_by_one(synthetic_file)  # GRID's points 0 and 2: fast=5 and 10, slow=20
    assert [r["final_equity"] for r in table] == [
        reference[0]["final_equity"],
        reference[2]["final_equity"],
    ]

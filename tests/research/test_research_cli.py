"""The research commands from the shell: bars from the market-data store, the
grid and windows from the config's ``[research]`` table, and bad input told in
one line with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from bastion.cli import app
from bastion.data.store import SeriesKey, write_bars

runner = CliRunner()


def test_a_sweep_reads_a_store_series_as_it_reads_the_file(
    synthetic_file: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    write_bars(store, SeriesKey.parse("test:SYN/USDT:1h"), pq.read_table(synthetic_file))
    common = ["sweep", "--strategy", "sma_cross", "--grid", "fast=5,10", "--grid", "slow=20",
              "--workers", "0"]  # fmt: skip

    by_store = runner.invoke(app, [*common, "--data", "test:SYN/USDT:1h", "--store", str(store),
                                   "--out", str(tmp_path / "a")])  # fmt: skip
    by_file = runner.invoke(app, [*common, "--data", str(synthetic_file), "--symbol", "SYN/USDT",
                                  "--out", str(tmp_path / "b")])  # fmt: skip

    assert by_store.exit_code == 0, by_store.output
    assert by_file.exit_code == 0, by_file.output
    a = pq.read_table(tmp_path / "a" / "sweep.parquet").drop(["task_s", "backtest_s"])
    b = pq.read_table(tmp_path / "b" / "sweep.parquet").drop(["task_s", "backtest_s"])
    assert a.to_pylist() == b.to_pylist()
    assert a.column("status").to_pylist() == ["ok", "ok"]


def test_the_walkforward_takes_its_grid_and_windows_from_the_config(
    synthetic_file: Path, tmp_path: Path
) -> None:
    config = tmp_path / "bot.toml"
    config.write_text(
        '[[strategies]]\nname = "sma_cross"\nsymbols = ["SYN/USDT"]\nparams = { qty = "0.1" }\n\n'
        '[research]\ntrain = "30d"\ntest = "30d"\nanchored = true\n'
        "grid = { fast = [5, 10], slow = [20] }\n"
    )

    result = runner.invoke(app, ["walkforward", "--config", str(config), "--data",
                                 str(synthetic_file), "--symbol", "SYN/USDT", "--workers", "0",
                                 "--out", str(tmp_path / "wf")])  # fmt: skip

    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "wf" / "walkforward.json").read_text())
    assert report["grid"] == {"fast": [5, 10], "slow": [20]}
    assert report["anchored"] is True and report["test_ms"] == 30 * 86_400_000
    assert all(f["chosen"]["slow"] == 20 for f in report["folds"])


def test_bad_input_is_one_line_and_exit_2(synthetic_file: Path, tmp_path: Path) -> None:
    data = ["--data", str(synthetic_file), "--symbol", "SYN/USDT", "--workers", "0"]
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text('[research]\ntrain = "sixty days"\n')
    cases = [
        (["sweep", *data, "--grid", "fast=5", "--metric", "luck"], "--metric 'luck'"),
        (["sweep", "--data", str(tmp_path / "none.parquet"), "--grid", "fast=5"], "no such file"),
        (["sweep", *data, "--grid", "fast=1:x:2"], "START:STOP:STEP"),
        (["sweep", *data, "--grid", "fast=5", "--config", str(bad_config)], "research.train"),
        (["walkforward", *data, "--grid", "fast=5", "--search", "luck"], "--search 'luck'"),
        (["slippage", "--tape", str(tmp_path / "none.jsonl.gz"), *data], "readable tape"),
    ]
    for args, says in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert says in result.output, (args, result.output)
        assert "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output


def test_an_unreachable_scheduler_is_one_line(
    synthetic_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from bastion.research import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "1s")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    result = runner.invoke(app, ["sweep", "--data", str(synthetic_file), "--symbol", "SYN/USDT",
                                 "--grid", "fast=5", "--scheduler", f"tcp://127.0.0.1:{port}",
                                 "--out", str(tmp_path)])  # fmt: skip

    assert result.exit_code == 2, result.output
    assert f"--scheduler tcp://127.0.0.1:{port}: cannot reach it" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_sweep_over_a_window_sees_only_its_bars(synthetic_file: Path, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    first = pq.read_table(synthetic_file).column("ts")[0].as_py()
    start = datetime.fromtimestamp(first / 1000, tz=UTC).date() + timedelta(days=10)
    end = start + timedelta(days=19)  # --to is inclusive: 20 days

    result = runner.invoke(app, ["sweep", "--data", str(synthetic_file), "--symbol", "SYN/USDT",
                                 "--strategy", "sma_cross", "--grid", "fast=5", "--grid",
                                 "slow=20", "--from", start.isoformat(), "--to", end.isoformat(),
                                 "--workers", "0", "--out", str(tmp_path)])  # fmt: skip

    assert result.exit_code == 0, result.output
    row = pq.read_table(tmp_path / "sweep.parquet").to_pylist()[0]
    assert row["status"] == "ok"
    day0 = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp() * 1000)
    assert row["start_ts"] == day0
    assert row["end_ts"] == day0 + 20 * 86_400_000 - 3_600_000  # the last hourly bar's open
    assert row["bars"] == 20 * 24
    meta = json.loads((tmp_path / "sweep.json").read_text())
    assert meta["tasks"] == 1

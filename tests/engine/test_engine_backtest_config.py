"""``bastion backtest --config``: every [[strategies]] entry over its symbols,
several data files or a folder, a date window and a coarser timeframe."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli import app
from bastion.observe.journal import read_events

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bot.toml"
BASKET = "binance_{}_USDT_1m_2026-03-23_2026-04-22.parquet"


def invoke(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["backtest", *args])
    return res.exit_code, res.output


@pytest.mark.realdata
def test_the_example_bot_runs_both_strategies_on_both_symbols(data_dir, tmp_path):
    ohlcv = data_dir / "ohlcv"
    code, output = invoke(
        "--config", str(EXAMPLE),
        "--data", str(ohlcv / BASKET.format("BTC")), "--data", str(ohlcv / BASKET.format("ETH")),
        "--from", "2026-04-01", "--to", "2026-04-07", "--out", str(tmp_path),
    )  # fmt: skip

    assert code == 0, output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert sorted(summary["strategies"]) == ["eth_quotes", "sma_cross"]
    assert summary["symbols"] == ["BTC/USDT", "ETH/USDT"]
    decided = Counter(
        (e["strategy"].split("@")[0], e["symbol"]) for e in read_events(tmp_path, kinds=["fill"])
    )
    assert decided[("sma_cross", "BTC/USDT")] > 0
    assert decided[("eth_quotes", "ETH/USDT")] > 0
    assert set(decided) == {("sma_cross", "BTC/USDT"), ("eth_quotes", "ETH/USDT")}
    cycles = {e["strategy"].split("@")[0] for e in read_events(tmp_path, kinds=["cycle"])}
    assert cycles == {"sma_cross", "eth_quotes"}
    assert summary["start_ts"] == 1_775_001_600_000  # 2026-04-01 00:00 UTC
    assert summary["end_ts"] < 1_775_606_400_000  # before 2026-04-08 00:00 UTC
    assert set(summary["by_strategy"]) == {"sma_cross", "eth_quotes"}


def test_the_example_bot_runs_on_synthetic_markets_without_data(tmp_path):
    code, output = invoke(
        "--config", str(EXAMPLE), "--synthetic-bars", "3000", "--out", str(tmp_path)
    )

    assert code == 0, output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["symbols"] == ["BTC/USDT", "ETH/USDT"] and summary["synthetic"]
    assert sorted(summary["strategies"]) == ["eth_quotes", "sma_cross"]


@pytest.mark.realdata
def test_a_folder_with_a_window_picks_the_files_in_it(data_dir, tmp_path):
    code, output = invoke(
        "--data", str(data_dir / "ohlcv"), "--from", "2026-04-01", "--to", "2026-04-02",
        "--strategy", "sma_cross", "--param", "qty=0.001", "--timeframe", "5m",
        "--out", str(tmp_path),
    )  # fmt: skip

    assert code == 0, output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert sorted(summary["symbols"]) == sorted(
        f"{c}/USDT" for c in ("BTC", "ETH", "BNB", "SOL", "XRP")
    )
    assert summary["interval_ms"] == 300_000
    assert summary["bars"] == 2 * 24 * 12


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timeframe", "30s"], "--timeframe 30s: finer than the data"),
        (["--timeframe", "90s"], "not a whole multiple of the data's 1m bars"),
        (["--from", "2026-13-01"], "--from '2026-13-01': expected a UTC date"),
        (["--from", "2030-01-01"], "no bars in the requested window"),
        (["--data", "nowhere.parquet"], "--data nowhere.parquet: no such file or folder"),
        (["--strategy", "nope"], "unknown strategy 'nope'"),
    ],
)
def test_bad_inputs_get_one_line(args, message, tmp_path):
    code, output = invoke("--synthetic-bars", "500", *args, "--out", str(tmp_path))

    assert code == 2
    assert message in " ".join(output.split())
    assert "Traceback" not in output


def test_a_strategy_without_data_is_named(tmp_path):
    cfg = tmp_path / "bot.toml"
    cfg.write_text('[[strategies]]\nname = "sma_cross"\nsymbols = ["SOL/USDT"]\n')
    data = tmp_path / "SYN_USDT_1m.csv"
    data.write_text("ts,open,high,low,close,volume\n0,1,1,1,1,1\n60000,1,1,1,1,1\n")

    code, output = invoke("--config", str(cfg), "--data", str(data), "--symbol", "BTC/USDT",
                          "--out", str(tmp_path / "o"))  # fmt: skip

    assert code == 2
    assert "strategy sma_cross: no data for SOL/USDT (data given for: BTC/USDT)" in " ".join(
        output.split()
    )


def test_version_and_help(tmp_path):
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.startswith("bastion ")
    for command in (["backtest"], ["journal"], ["risk", "report"], ["new-strategy"], ["kill"]):
        res = runner.invoke(app, [*command, "--help"], terminal_width=120)
        assert res.exit_code == 0, res.output
        assert "<str>" not in res.output and "<bool>" not in res.output, command
        assert "<int>" not in res.output and "<path>" not in res.output, command
    res = runner.invoke(app, ["backtest", "--help"], terminal_width=120)
    assert "[default: 100000]" in res.output and "[default: 50000]" in res.output


def test_journal_with_an_unknown_kind_lists_the_kinds(tmp_path):
    invoke("--synthetic-bars", "2000", "--out", str(tmp_path))

    res = runner.invoke(app, ["journal", str(tmp_path), "--kind", "fils"])

    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert "--kind 'fils': no such events in this journal; kinds: " in text
    assert "cycle (" in text
    assert "fill (" in text

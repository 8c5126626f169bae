"""The bastion command: backtest outputs, journal printing, bad input."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from tests.engine.conftest import walk
from typer.testing import CliRunner

from bastion.cli import app

runner = CliRunner()
SUMMARY_KEYS = {
    "bars",
    "orders",
    "fills",
    "round_trips",
    "final_equity",
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "max_drawdown",
    "max_drawdown_duration_s",
    "win_rate",
    "profit_factor",
    "exposure",
    "fees",
    "elapsed_s",
    "bars_per_s",
    "annualization",
}


@pytest.fixture
def csv_file(tmp_path):
    s = walk(3000, seed=11)
    path = tmp_path / "bars.csv"
    rows = ["ts,open,high,low,close,volume"]
    for i in range(len(s)):
        rows.append(
            ",".join(
                [str(int(s.ts[i]))]
                + [repr(float(col[i])) for col in (s.open, s.high, s.low, s.close, s.volume)]
            )
        )
    path.write_text("\n".join(rows) + "\n")
    return path


def test_backtest_writes_every_output(tmp_path, csv_file):
    out = tmp_path / "run"
    res = runner.invoke(
        app,
        [
            "backtest",
            "--strategy", "sma_cross",
            "--data", str(csv_file),
            "--symbol", "SYN/USDT",
            "--cash", "100000",
            "--fee-bps", "10",
            "--param", "fast=5",
            "--param", "slow=20",
            "--param", "qty=0.1",
            "--out", str(out),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS
    assert summary["bars"] == 3000
    assert summary["orders"] == summary["fills"] > 0
    header = (out / "trades.csv").read_text().splitlines()[0]
    assert "net_pnl" in header
    html = (out / "report.html").read_text()
    assert "uPlot" in html
    assert '<script src="http' not in html
    db = sqlite3.connect(out / "journal.sqlite")
    kinds = {k for (k,) in db.execute("SELECT DISTINCT kind FROM events")}
    assert {"cycle", "risk_decision", "order_submitted", "fill", "run_end"} <= kinds


def test_journal_json_lines_and_kind_filter(tmp_path, csv_file):
    out = tmp_path / "run"
    runner.invoke(
        app,
        [
            "backtest",
            "--data",
            str(csv_file),
            "--symbol",
            "SYN/USDT",
            "--out",
            str(out),
            "--param",
            "fast=5",
            "--param",
            "slow=20",
        ],
    )

    res = runner.invoke(app, ["journal", str(out), "--kind", "fill", "--json"])

    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.output.splitlines() if x.strip()]
    assert lines and all(e["kind"] == "fill" for e in lines)
    assert {"trade_id", "client_id", "price", "qty", "fee", "strategy"} <= set(lines[0])


def test_bad_data_names_the_row(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("ts,open,high,low,close,volume\n0,1,2,0.5,1.5,1\n60000,1,0.5,2,1.5,1\n")

    res = runner.invoke(
        app, ["backtest", "--data", str(bad), "--symbol", "X/USDT", "--out", str(tmp_path / "o")]
    )

    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert "bad.csv" in text
    assert "high" in text and "low" in text


def test_bad_param_names_the_key(tmp_path, csv_file):
    res = runner.invoke(
        app,
        [
            "backtest",
            "--data",
            str(csv_file),
            "--symbol",
            "SYN/USDT",
            "--param",
            "fsat=5",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code == 2
    assert "fsat" in res.output


def test_bad_config_names_key_value_and_expectation(tmp_path, csv_file):
    cfg = tmp_path / "bot.toml"
    cfg.write_text('[venue]\nfee_bps = "lots"\n')
    res = runner.invoke(
        app,
        [
            "backtest",
            "--data",
            str(csv_file),
            "--symbol",
            "SYN/USDT",
            "--config",
            str(cfg),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert "venue.fee_bps" in text and "lots" in text


def test_journal_of_missing_run_is_a_clear_error(tmp_path):
    res = runner.invoke(app, ["journal", str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert "no journal" in res.output


def test_slippage_option_costs_money(tmp_path, csv_file):
    def equity(slip):
        out = tmp_path / slip.replace(":", "_")
        res = runner.invoke(
            app,
            [
                "backtest",
                "--data",
                str(csv_file),
                "--symbol",
                "SYN/USDT",
                "--slippage",
                slip,
                "--out",
                str(out),
                "--param",
                "fast=5",
                "--param",
                "slow=20",
            ],
        )
        assert res.exit_code == 0, res.output
        return json.loads((out / "summary.json").read_text())["final_equity"]

    assert equity("fixed:20") < equity("none")
    assert np.isfinite(equity("volume:0.5"))


def test_console_entry_point_starts_and_lists_every_command():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "from bastion.cli import main; main()", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    commands = ("backtest", "journal", "demo", "run", "emulator", "halt", "resume", "risk")
    for command in (*commands, "sentinel", "kill"):
        assert command in done.stdout

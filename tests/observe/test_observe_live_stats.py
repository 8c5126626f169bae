"""Per-strategy live statistics come from the backtests' own code: fed a
backtest's journal, they report the backtest's round trips, win rate and
fees; ``bastion stats`` prints them for a live bot's data folder."""

from __future__ import annotations

import pytest
from observe_support import make_bot, step
from tests.engine.conftest import MINUTE, walk
from typer.testing import CliRunner

from bastion.cli import app
from bastion.config import BotConfig
from bastion.engine.backtest import run_backtest
from bastion.observe.journal import read_events
from bastion.observe.live_stats import strategy_stats
from bastion.strategy import build_strategy


def test_the_journal_of_a_backtest_gives_the_backtests_trade_statistics(tmp_path):
    series = walk(3_000, seed=7)
    strat = build_strategy("sma_cross", [series.symbol], {"fast": 5, "slow": 20})
    result = run_backtest([series], [strat], BotConfig(), journal_path=tmp_path / "j.sqlite")
    live = strategy_stats(read_events(tmp_path / "j.sqlite"), interval_ms=MINUTE,
                          initial_equity=None)[strat.ref.id]  # fmt: skip
    s = result.summary
    assert s["round_trips"] > 10
    assert live["round_trips"] == s["round_trips"]
    assert live["win_rate"] == s["win_rate"]
    assert live["fees"] == pytest.approx(s["fees"])


@pytest.mark.slow
def test_bastion_stats_on_a_live_bots_folder(tmp_path):
    folder = tmp_path / "bot"
    rig = make_bot(folder)
    try:
        step(rig, 6)
    finally:
        rig.close()
    cfg = tmp_path / "bot.toml"
    cfg.write_text(f'data_dir = "{folder}"\n[exchange]\nbar_interval = "1s"\n', encoding="utf-8")
    r = CliRunner().invoke(app, ["stats", "--config", str(cfg), "--since", "7d"])
    assert r.exit_code == 0, r.output
    header, row = r.output.strip().splitlines()
    assert header.split()[:4] == ["strategy", "round_trips", "win_rate", "sharpe"]
    cells = row.split()
    stats = strategy_stats(read_events(folder), interval_ms=1000, since_ts=0)["scripted"]
    assert cells[0] == "scripted" and int(cells[1]) == stats["round_trips"] >= 2
    assert float(cells[2]) == pytest.approx(stats["win_rate"], abs=1e-3)
    assert stats["exposure"] is not None and 0 < stats["exposure"] < 1
    assert stats["turnover"] > 0
    bad = CliRunner().invoke(app, ["stats", "--config", str(cfg), "--since", "soon"])
    assert bad.exit_code == 2 and "soon" in bad.output and "Traceback" not in bad.output

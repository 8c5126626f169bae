"""Acceptance: a strategy file outside the package, using only the documented
API, loads from the command line and from a config and backtests a real month
to exactly the trades and final equity of a plain loop written here.

The loop knows nothing of bastion: a breakout of the previous 20 bars' high
goes long 0.01 BTC, a break below their low goes flat; market orders fill at
the next bar's open with a 10 bps fee; money in Decimal from the float's repr.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner
from user_strategy import BREAKOUT

from bastion.cli import app
from bastion.config import BotConfig
from bastion.engine.backtest import run_backtest
from bastion.model import BarSeries, Side
from bastion.observe.journal import read_events
from bastion.strategy import build_strategy

pytestmark = pytest.mark.realdata
D = Decimal
LOOKBACK, QTY, FEE, CASH = 20, D("0.01"), D("0.001"), D(100_000)
runner = CliRunner()


@dataclass(frozen=True)
class Reference:
    fills: list[tuple[int, Side, Decimal]]
    round_trips: int
    final_equity: Decimal


def reference(bars: BarSeries) -> Reference:
    o, h, lo, c = (bars.open.tolist(), bars.high.tolist(), bars.low.tolist(), bars.close.tolist())
    ts = bars.ts.tolist()
    cash, pos, want = CASH, D(0), D(0)
    pending: Side | None = None
    fills: list[tuple[int, Side, Decimal]] = []
    trips = 0
    for i in range(len(c)):
        if pending is not None:
            price = D(repr(o[i]))
            fee = QTY * price * FEE
            if pending is Side.BUY:
                cash, pos = cash - QTY * price - fee, pos + QTY
            else:
                cash, pos, trips = cash + QTY * price - fee, pos - QTY, trips + 1
            fills.append((ts[i], pending, price))
            pending = None
        if i < LOOKBACK:
            continue
        before = range(i - LOOKBACK, i)
        if c[i] > max(h[j] for j in before):
            new = QTY
        elif c[i] < min(lo[j] for j in before):
            new = D(0)
        else:
            new = want
        if new != want:
            want = new
            if want != pos:
                pending = Side.BUY if want > pos else Side.SELL
    return Reference(fills, trips, cash + pos * D(repr(c[-1])))


@pytest.fixture(scope="module")
def user_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("user") / "strategies" / "breakout.py"
    path.parent.mkdir()
    path.write_text(BREAKOUT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def expected(btc_month: BarSeries) -> Reference:
    return reference(btc_month)


def test_the_month_is_a_meaningful_workload(expected: Reference) -> None:
    assert expected.round_trips > 200


def test_in_process_agrees_with_the_loop_exactly(
    btc_month: BarSeries, user_file: Path, expected: Reference
) -> None:
    strat = build_strategy(f"{user_file}:Breakout", [btc_month.symbol], {"qty": str(QTY)})

    result = run_backtest([btc_month], [strat], BotConfig())

    assert [(f.ts, f.side, f.price) for _s, f in result.fills] == expected.fills
    assert result.summary["round_trips"] == expected.round_trips
    assert D(result.summary["final_equity_exact"]) == expected.final_equity
    assert result.summary["not_approved"] == 0 and result.summary["resized_total"] == 0


def test_from_the_command_line(
    btc_month: BarSeries, user_file: Path, expected: Reference, tmp_path: Path
) -> None:
    out = tmp_path / "cli"
    res = runner.invoke(
        app,
        ["backtest", "--strategy", f"{user_file}:Breakout",
         "--data", btc_month.source.split(":", 1)[1],
         "--param", f"qty={QTY}", "--out", str(out)],
    )  # fmt: skip

    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["round_trips"] == expected.round_trips
    assert summary["final_equity"] == float(expected.final_equity.quantize(D("0.01")))
    assert D(summary["final_equity_exact"]) == expected.final_equity


def test_from_a_config_with_a_relative_path(
    btc_month: BarSeries, user_file: Path, expected: Reference, tmp_path: Path
) -> None:
    cfg = user_file.parent.parent / "bot.toml"
    cfg.write_text(
        '[[strategies]]\nname = "strategies/breakout.py:Breakout"\nid = "mine"\n'
        f'symbols = ["BTC/USDT"]\nparams = {{ lookback = {LOOKBACK}, qty = "{QTY}" }}\n'
    )
    out = tmp_path / "cfg"
    res = runner.invoke(
        app,
        ["backtest", "--config", str(cfg), "--data", btc_month.source.split(":", 1)[1],
         "--out", str(out)],
    )  # fmt: skip

    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["strategies"]) == ["mine"]
    assert D(summary["final_equity_exact"]) == expected.final_equity
    fills = list(read_events(out, kinds=["fill"]))
    assert len(fills) == len(expected.fills)

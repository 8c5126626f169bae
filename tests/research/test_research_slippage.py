"""Slippage calibration: hand-made books and tapes give the costs the rules
say; the recorded Binance stream gives a fitted volume-participation model
that charges what the book charged; and ``bastion slippage`` prints the
sensitivity at 0, 5, 10, 20 bps and at the calibrated model."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from tests.research.support import BTC_3M, real_file
from typer.testing import CliRunner

from bastion.cli import app
from bastion.data.paths import shared_data_dir
from bastion.research.calibrate import Ladder, Tape, calibrate, measure, measure_book
from bastion.research.tape import read_tape


def _arr(*xs: float) -> np.ndarray:
    return np.array(xs, dtype=np.float64)


def test_walking_a_book_costs_the_volume_weighted_levels() -> None:
    ladder = Ladder(0, _arr(99.9, 99.8), _arr(1.0, 5.0), _arr(100.1, 100.2, 100.4), _arr(1, 1, 2))
    mid = 100.0

    costs = measure_book([ladder], [1.5, 10.0])

    buy = (100.1 * 1 + 100.2 * 0.5) / 1.5
    sell = (99.9 * 1 + 99.8 * 0.5) / 1.5
    assert costs[1.5].tolist() == pytest.approx([(buy / mid - 1) * 1e4, (1 - sell / mid) * 1e4])
    assert costs[10.0].size == 0  # more than the book holds: dropped


def test_walking_the_tape_takes_the_takers_trades_after_the_start() -> None:
    tape = Tape(
        ts=np.array([0, 1_000, 2_000, 3_000], dtype=np.int64),
        price=_arr(100.0, 100.5, 99.0, 101.0),
        qty=_arr(1.0, 1.0, 1.0, 1.0),
        buyer_maker=np.array([False, False, True, False]),  # buy, buy, sell, buy
    )

    costs = measure(tape, [1.5], every_ms=10_000)  # one start, at 0; reference 100

    buy = (100.0 * 1 + 100.5 * 0.5) / 1.5
    assert costs[1.5].tolist() == pytest.approx([(buy / 100.0 - 1) * 1e4])  # sells cannot fill


def test_the_fit_is_the_least_squares_slope_through_the_origin() -> None:
    rng = np.random.default_rng(4)
    ladders = []
    for i in range(30):
        depth = rng.uniform(0.5, 2.0, 200)
        ticks = 100 + 0.01 * np.arange(1, 201)
        ladders.append(Ladder(i, 200 - ticks, depth, ticks, depth))  # bids mirror asks
    tape = Tape(
        ts=np.array([0, 60_000], dtype=np.int64), price=_arr(100, 100), qty=_arr(50, 50),
        buyer_maker=np.array([False, True]), ladders=ladders,
    )  # fmt: skip
    sizes = (1.0, 2.0, 5.0)

    cal = calibrate(tape, share=0.1, interval_ms=60_000, sizes=sizes)

    costs = measure_book(ladders, sizes)
    x = np.concatenate([np.full(costs[s].size, s / (0.1 * cal.bar_volume)) for s in sizes])
    y = np.concatenate([costs[s] for s in sizes])
    assert cal.bar_volume == pytest.approx(100.0)  # 100 traded in one minute
    assert cal.impact_bps == pytest.approx(float(np.dot(x, y) / np.dot(x, x)))
    assert cal.basis == "book"
    assert cal.spec == f"volume:0.1:{cal.impact_bps:.4f}"


def _ticks() -> list[Path]:
    d = shared_data_dir()
    files = [] if d is None else sorted((d / "ticks").glob("binance_spot_btcusdt_*.jsonl.gz"))
    if not files:
        pytest.skip("recorded ticks not found (../shared/data/ticks or $BASTION_DATA_DIR)")
    return files


@pytest.mark.realdata
@pytest.mark.slow
def test_the_recorded_stream_calibrates_a_model_that_charges_what_the_book_did() -> None:
    tape = read_tape(_ticks())

    cal = calibrate(tape, share=0.1, interval_ms=60_000)

    assert 19_000 < cal.trades < 21_000  # the two files' trades, each once
    assert len(tape.ladders) > 100 and cal.basis == "book"
    assert cal.impact_bps > 0
    for row in cal.rows:
        if 0.5 <= row.size <= 2 and row.mean_bps is not None:
            assert row.model_bps == pytest.approx(row.mean_bps, rel=0.5)


def test_a_damaged_tape_line_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl.gz"
    with gzip.open(bad, "wt") as fh:
        fh.write('1 {"stream":"btcusdt@trade","data":{"t":1,"p":"1","q":"1","m":true}}\n')
        fh.write("2 {not json\n")
    from bastion.data.errors import DataError

    with pytest.raises(DataError, match="line 2"):
        read_tape([bad])


@pytest.mark.realdata
@pytest.mark.slow
def test_the_command_prints_the_sensitivity_table(tmp_path: Path) -> None:
    ticks = _ticks()
    result = CliRunner().invoke(
        app,
        ["slippage", *(a for t in ticks for a in ("--tape", str(t))), "--data",
         str(real_file(BTC_3M)), "--timeframe", "1h", "--strategy", "sma_cross",
         "--param", "fast=10", "--param", "slow=30", "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "slippage.json").read_text())
    rows = {r["slippage"]: r for r in report["sensitivity"]}
    calibrated = report["calibration"]["spec"]
    assert list(rows) == ["none", "fixed:5", "fixed:10", "fixed:20", calibrated]
    equity = [rows[m]["final_equity"] for m in ("none", "fixed:5", "fixed:10", "fixed:20")]
    assert equity == sorted(equity, reverse=True) and equity[0] > equity[-1]
    for model in rows:
        assert model in result.output

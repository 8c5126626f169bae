"""Recording what the bot consumed: a paper bot on the emulator writes every trade
it received and every bar it decided on, with exchange and receive times, to
Parquet in its folder, one folder per UTC day; replaying the recorded trades
through the bar builder gives back the recorded bars."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from live_support import start_emulator

from bastion.config import parse_config
from bastion.data.bar_builder import BarBuilder
from bastion.data.recorder import Recorder, read_day
from bastion.emulator import EmulatorConfig
from bastion.engine.live import run_bot
from bastion.model import Bar
from bastion.observe.journal import read_events

DAY1 = 1_764_633_599_000  # 2025-12-01 23:59:59 UTC
DAY2 = DAY1 + 2_000


def test_rows_are_rotated_by_the_day_they_were_received(tmp_path: Path) -> None:
    rec = Recorder(tmp_path, flush_s=3600)
    rec.trade("BTC/USDT", "1", DAY1 - 5, DAY1, 100.0, 1.0, True)
    rec.trade("BTC/USDT", "2", DAY2 - 5, DAY2, 101.0, 2.0, False)
    rec.top("BTC/USDT", DAY2 - 3, DAY2, 100.5, 1.0, 101.5, 2.0)

    rec.close()

    first, second = (
        read_day(tmp_path, "2025-12-01", "trades"),
        read_day(tmp_path, "2025-12-02", "trades"),
    )
    assert first.column("trade_id").to_pylist() == ["1"]
    assert second.to_pylist()[0] | {"seq": 0} == {
        "seq": 0, "symbol": "BTC/USDT", "trade_id": "2", "exchange_ts": DAY2 - 5,
        "recv_ts": DAY2, "price": 101.0, "qty": 2.0, "buyer_is_maker": False,
    }  # fmt: skip
    assert read_day(tmp_path, "2025-12-02", "tops").column("ask").to_pylist() == [101.5]


def test_a_write_failure_is_reported_and_loses_nothing_already_written(tmp_path: Path) -> None:
    errors: list[str] = []
    rec = Recorder(tmp_path, flush_s=3600, on_error=errors.append)
    rec.trade("BTC/USDT", "1", DAY1, DAY1, 100.0, 1.0)
    rec.flush()
    (tmp_path / "recorded" / "2025-12-02").write_text("not a folder")  # the next day cannot open
    rec.trade("BTC/USDT", "2", DAY2, DAY2, 100.0, 1.0)

    rec.close()

    assert errors and "trades" in errors[0]
    assert read_day(tmp_path, "2025-12-01", "trades").num_rows == 1


@pytest.mark.slow
def test_a_paper_bot_records_the_trades_and_bars_it_consumed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BASTION_STORE", str(tmp_path / "empty"))
    thread, emu = start_emulator(EmulatorConfig(source="synthetic", rate=20))
    cfg = parse_config(
        {
            "name": "record-test", "data_dir": str(tmp_path / "bot"),
            "exchange": {"id": "binance", "mode": "paper", "base_url": emu.url,
                         "ws_url": emu.ws_url, "bar_interval": "1s", "rate_limit": False},
            "strategies": [{"name": "sma_cross", "symbols": ["BTC/USDT"],
                            "params": {"fast": 2, "slow": 3, "qty": "0.001"}}],
        },
        "record-test",
    )  # fmt: skip
    try:
        asyncio.run(run_bot(cfg, duration_s=5, status=lambda _: None))
    finally:
        thread.stop()

    days = sorted(p.name for p in (tmp_path / "bot" / "recorded").iterdir())
    trades = read_day(tmp_path / "bot", days[-1], "trades").to_pylist()
    bars = read_day(tmp_path / "bot", days[-1], "bars").to_pylist()
    assert len(trades) > 30 and len(bars) >= 2
    assert all(t["recv_ts"] >= t["exchange_ts"] - 1_000 for t in trades)
    cycles = [e for e in read_events(tmp_path / "bot") if e["kind"] == "cycle"]
    assert len({b["cycle_ts"] for b in bars}) >= len(cycles)
    replayed: dict[int, Bar] = {}
    builder = BarBuilder("BTC/USDT", 1_000, lambda *a: None)
    for t in trades:  # in seq order: as received
        for bar in builder.on_trade(t["trade_id"], t["exchange_ts"], t["price"], t["qty"]):
            replayed[bar.ts] = bar
    for b in bars:
        r = replayed.get(b["ts"])
        if r is not None:  # a bar the clock closed before its next trade closes no bar here
            assert (r.open, r.high, r.low, r.close) == (b["open"], b["high"], b["low"], b["close"])
            assert r.volume == pytest.approx(b["volume"])

"""``run_bot`` with ``[feeds]``: a REST fallback beside the stream and an L2
book in the view, against the emulator, with the stream stalled part-way."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from live_support import admin, start_emulator
from tests.stages import live_folder

from bastion.config import parse_config
from bastion.emulator import TEST_API_KEY, TEST_API_SECRET, EmulatorConfig
from bastion.engine.live import run_bot
from bastion.observe.journal import read_events

pytestmark = pytest.mark.slow


def test_the_bot_fails_over_keeps_deciding_and_quotes_on_its_book(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASTION_LIVETEST_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("BASTION_LIVETEST_API_SECRET", TEST_API_SECRET)
    thread, emu = start_emulator(
        EmulatorConfig(source="synthetic", rate=20, balances={"USDT": Decimal(100_000)})
    )
    config = parse_config(
        {
            "data_dir": str(tmp_path),
            "exchange": {
                "mode": "live", "base_url": emu.url, "ws_url": emu.ws_url,
                "key_env": "BASTION_LIVETEST", "bar_interval": "1s", "refresh_s": 0.5,
                "call_timeout_s": 2, "rate_limit": False,
            },
            "feeds": {
                "failback_s": 2, "book": True, "book_depth_bps": 50,
                "sources": [
                    {"name": "ws", "kind": "ws", "stall_s": 1},
                    {"name": "rest", "kind": "rest", "poll_s": 0.2, "stall_s": 2, "limit": 300},
                ],
            },
            "strategies": [
                {
                    "name": "quoter", "symbols": ["BTC/USDT"],
                    "params": {"spread_bps": "20", "qty": "0.01", "requote_bps": 0.0},
                }
            ],
        }
    )  # fmt: skip
    fault = {"kind": "ws_stall", "stream": "btcusdt@trade", "duration_s": 3.0}
    timer = threading.Timer(3.0, lambda: admin(emu, "/faults", fault))
    lines: list[str] = []
    timer.start()
    try:
        live_folder(tmp_path)  # live mode needs a promoted folder
        summary = asyncio.run(
            run_bot(config, duration_s=12, status=lines.append, status_every_s=1.0)
        )
    finally:
        timer.cancel()
        thread.stop()
    events = list(read_events(tmp_path))

    switched = [e for e in events if e["kind"] == "feed_switched"]
    assert [e["reason"] for e in switched][:1] == ["FAILOVER"]
    failover_ts = switched[0]["ts"]
    assert any(e["kind"] == "cycle" and e["ts"] > failover_ts + 500 for e in events), (
        "no decisions on the fallback's bars"
    )
    assert any("BTC/USDT on rest" in line for line in lines)
    assert summary.orders > 0, "the quoter never quoted: the book never reached the view"
    assert not [e for e in events if e["kind"] in ("data_gap", "bar_refused")]

"""A second ccxt exchange as the reference-price fallback feed: a second
emulator plays it (as ``binanceus``, a ccxt class of its own that speaks
Binance's API), the primary's stream is stalled, the reference carries the
bars, and the bot fails back to its own exchange once the stream recovers."""

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


def test_a_second_exchange_carries_the_bars_while_the_primary_stalls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASTION_LIVETEST_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("BASTION_LIVETEST_API_SECRET", TEST_API_SECRET)
    own_thread, own = start_emulator(
        EmulatorConfig(source="synthetic", rate=20, balances={"USDT": Decimal(100_000)})
    )
    ref_thread, ref = start_emulator(EmulatorConfig(source="synthetic", rate=20, seed=1))
    config = parse_config(
        {
            "data_dir": str(tmp_path),
            "exchange": {
                "mode": "live", "base_url": own.url, "ws_url": own.ws_url,
                "key_env": "BASTION_LIVETEST", "bar_interval": "1s", "refresh_s": 0.5,
                "call_timeout_s": 2, "rate_limit": False,
            },
            "feeds": {
                "failback_s": 2,
                "sources": [
                    {"name": "ws", "kind": "ws", "stall_s": 1},
                    {
                        "name": "ref", "kind": "rest", "exchange": "binanceus",
                        "base_url": ref.url, "poll_s": 0.2, "stall_s": 2, "limit": 300,
                    },
                ],
            },
            "strategies": [
                {"name": "sma_cross", "symbols": ["BTC/USDT"],
                 "params": {"fast": 2, "slow": 3, "qty": "0.001"}},
            ],
        }
    )  # fmt: skip
    fault = {"kind": "ws_stall", "stream": "btcusdt@trade", "duration_s": 3.0}
    timer = threading.Timer(3.0, lambda: admin(own, "/faults", fault))
    lines: list[str] = []
    timer.start()
    try:
        live_folder(tmp_path)  # live mode needs a promoted folder
        asyncio.run(run_bot(config, duration_s=11, status=lines.append, status_every_s=1.0))
        asked_ref = admin(ref, "/requests")
    finally:
        timer.cancel()
        own_thread.stop()
        ref_thread.stop()
    events = list(read_events(tmp_path))

    switched = [e for e in events if e["kind"] == "feed_switched"]
    assert [(e["reason"], e["to"]) for e in switched][:2] == [
        ("FAILOVER", "ref"),
        ("FAILBACK", "ws"),
    ], switched
    failover, failback = switched[0]["ts"], switched[1]["ts"]
    assert any(e["kind"] == "cycle" and failover < e["ts"] < failback for e in events), (
        "no decisions on the reference exchange's bars"
    )
    assert any("BTC/USDT on ref" in line for line in lines), lines
    polled = {p: n for p, n in asked_ref["requests"].items() if "trades" in p.lower()}
    assert sum(polled.values()) > 0, asked_ref  # the reference exchange was polled
    assert not [e for e in events if e["kind"] in ("data_gap", "bar_refused", "feeds_down")]

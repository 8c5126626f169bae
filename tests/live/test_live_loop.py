"""The live loop itself (``run_bot``) against the emulator: the shell survives.

These run the real shell for a few seconds: the ccxt.pro trade feed with its
staleness timeout, bars built from trades, cycles in a worker thread, the
venue over ccxt. The emulator's synthetic market trades ~10 times a second;
the bot quotes on 1-second bars (the quoter re-quotes every cycle, so each
cycle leaves a ``cycle`` event in the journal). A fault is set through the
admin API part-way through the run, as an operator would see it happen.
"""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from live_support import admin, start_emulator, wall_ms
from tests.stages import live_folder

from bastion.config import parse_config
from bastion.emulator import TEST_API_KEY, TEST_API_SECRET, EmulatorConfig
from bastion.engine.live import LiveSummary, run_bot
from bastion.observe.journal import read_events

pytestmark = pytest.mark.slow


def _config(emu: Any, folder: Path, **exchange: Any):
    live_folder(folder)  # live mode needs a promoted folder
    return parse_config(
        {
            "name": "live-test",
            "data_dir": str(folder),
            "exchange": {
                "id": "binance",
                "mode": "live",
                "base_url": emu.url,
                "ws_url": emu.ws_url,
                "key_env": "BASTION_LIVETEST",
                "bar_interval": "1s",
                "refresh_s": 0.5,
                "feed_stale_s": 5,
                "call_timeout_s": 2,
                "rate_limit": False,
                **exchange,
            },
            "strategies": [
                {
                    "name": "quoter",
                    "symbols": ["BTC/USDT"],
                    "params": {
                        "spread_bps": "20",
                        "qty": "0.01",
                        "max_inventory": "0.05",
                        "requote_bps": 0.0,
                    },
                }
            ],
        },
        "live-test",
    )


def _run(
    emu: Any, folder: Path, duration_s: float, fault_at_s: float, fault: dict, **exchange: Any
):
    """Run the bot for ``duration_s``; post ``fault`` ``fault_at_s`` into the run."""
    marks: dict[str, int] = {}

    def inject() -> None:
        marks["fault_ms"] = wall_ms()
        admin(emu, "/faults", fault)

    timer = threading.Timer(fault_at_s, inject)
    lines: list[str] = []
    timer.start()
    try:
        summary = asyncio.run(
            run_bot(_config(emu, folder, **exchange), duration_s=duration_s, status=lines.append,
                    status_every_s=1.0)
        )  # fmt: skip
    finally:
        timer.cancel()
    return summary, marks, list(read_events(folder))


@pytest.fixture
def emulator(monkeypatch):
    monkeypatch.setenv("BASTION_LIVETEST_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("BASTION_LIVETEST_API_SECRET", TEST_API_SECRET)
    thread, emu = start_emulator(
        EmulatorConfig(source="synthetic", rate=20, balances={"USDT": Decimal(100_000)})
    )
    yield emu
    thread.stop()


def test_a_ban_is_survived_and_the_bot_resumes_after_it(emulator, tmp_path) -> None:
    ban_s = 2
    summary, marks, events = _run(
        emulator, tmp_path, duration_s=8, fault_at_s=3,
        fault={"kind": "ban", "count": 1, "retry_after_s": ban_s},
    )  # fmt: skip

    assert isinstance(summary, LiveSummary)  # run_bot returned: the ban did not kill it
    failed = [e for e in events if e["kind"] == "cycle_failed"]
    assert failed, "no cycle met the ban"
    assert "418" in failed[0]["error"] and failed[0]["alert"] is True
    banned_until = marks["fault_ms"] + ban_s * 1000
    assert all(e["ts"] <= banned_until + 1_500 for e in failed)
    last_failed = max(e["seq"] for e in failed)
    after = [e for e in events if e["kind"] == "cycle" and e["seq"] > last_failed]
    assert len(after) >= 2, "no decisions after the ban lifted"
    assert any(e["kind"] == "cycle_recovered" for e in events)
    assert summary.halt_state == "ACTIVE"
    assert "error" not in summary.positions  # the venue answered at shutdown


def test_a_silent_stream_is_detected_within_the_limit_and_rebuilt(emulator, tmp_path) -> None:
    stale_s = 1.0
    summary, marks, events = _run(
        emulator, tmp_path, duration_s=8, fault_at_s=2.5,
        fault={"kind": "ws_stall", "stream": "btcusdt@*rade", "duration_s": 2.0},
        feed_stale_s=stale_s,
    )  # fmt: skip

    stale = [e for e in events if e["kind"] == "feed_stale"]
    assert stale, "the stall went unnoticed"
    first = stale[0]
    assert first["alert"] is True and first["symbol"] == "BTC/USDT" and first["action"] == "rebuild"
    # Detected within the staleness limit (plus one bar of scheduling slack).
    assert 0 <= first["ts"] - marks["fault_ms"] <= stale_s * 1000 + 1_000
    assert summary.feed_rebuilds >= 1
    # Trades flow again on the rebuilt stream: bars, hence decisions, after the stall.
    stall_end = marks["fault_ms"] + 2_000
    after = [e for e in events if e["kind"] == "cycle" and e["ts"] > stall_end + 200]
    assert len(after) >= 2, "no bars after the stream was rebuilt"
    # The loop collects what the dropped stream left (engine.memory), start-up frozen.
    gcs = [e["proc"]["gc"] for e in events if e["kind"] == "cycle_stats"]
    assert gcs and gcs[-1]["collections"] >= 1 and gcs[-1]["frozen"] > 0

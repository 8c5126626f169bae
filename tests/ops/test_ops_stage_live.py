"""The ladder in the real live loop: ``run_bot`` on the emulator through ccxt.

A live-small folder trades every intent at 1% of its size (the quoter's 1 BTC
quotes reach the exchange as 0.01); a paper folder is refused live mode
before anything connects."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bastion.config import parse_config
from bastion.emulator import TEST_API_KEY, TEST_API_SECRET, EmulatorConfig, EmulatorThread
from bastion.engine.errors import LiveError
from bastion.engine.live import run_bot
from bastion.engine.stage import record_stage
from bastion.observe.journal import read_events
from bastion.state.stage import Stage

pytestmark = pytest.mark.slow
T_STAGED = 1_700_000_000_000


def _config(emu: Any, folder: Path):
    return parse_config(
        {
            "name": "ladder",
            "data_dir": str(folder),
            "exchange": {
                "id": "binance", "mode": "live", "base_url": emu.url, "ws_url": emu.ws_url,
                "key_env": "BASTION_LADDER", "bar_interval": "1s", "refresh_s": 0.5,
                "feed_stale_s": 5, "call_timeout_s": 2, "rate_limit": False,
            },
            "risk": {"max_position": "10", "max_order": "10"},
            "strategies": [{"name": "quoter", "symbols": ["BTC/USDT"], "params": {
                "spread_bps": "20", "qty": "1", "max_inventory": "5", "requote_bps": 0.0}}],
        },
        "ladder",
    )  # fmt: skip


@pytest.fixture
def emu(monkeypatch):
    monkeypatch.setenv("BASTION_LADDER_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("BASTION_LADDER_API_SECRET", TEST_API_SECRET)
    thread = EmulatorThread(
        EmulatorConfig(source="synthetic", rate=20, balances={"USDT": Decimal(1_000_000)})
    )
    yield thread.start()
    thread.stop()


def test_a_live_small_bot_sends_one_percent_of_every_intent(emu, tmp_path) -> None:
    record_stage(tmp_path, Stage.LIVE_SMALL, reason="test", by="test", now=T_STAGED)

    asyncio.run(run_bot(_config(emu, tmp_path), duration_s=5, status=lambda _: None))

    sent = list(read_events(tmp_path, kinds=["order_submitted"]))
    assert sent, "the quoter placed nothing"
    sizes = {Decimal(e["qty"]) for e in sent}
    assert max(sizes) == Decimal("0.01")  # the 1 BTC quotes; smaller ones follow fills
    (run,) = read_events(tmp_path, kinds=["run_stage"])
    assert (run["stage"], run["mode"], run["size_scale"]) == ("live-small", "live", "0.01")


def test_a_paper_folder_is_refused_live_mode_before_anything_connects(emu, tmp_path) -> None:
    record_stage(tmp_path, Stage.PAPER, reason="test", by="test", now=T_STAGED)

    with pytest.raises(LiveError, match="live mode refused: the bot's stage is paper"):
        asyncio.run(run_bot(_config(emu, tmp_path), duration_s=5, status=lambda _: None))

    kinds = {e["kind"] for e in read_events(tmp_path)}
    # No session, no order: the stage and the shadow gate's note are all there is.
    assert kinds <= {"stage_changed", "version_gate"}, kinds
    assert "stage_changed" in kinds

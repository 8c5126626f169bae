"""A bot on BTC/AUD against the BTC Markets dialect, paper and live.

BTC Markets has no private stream in ccxt and no order lookup by client id,
so the capability table has the venue poll (REST trades feed, account
snapshots) and find orders by scanning open and recent ones. The live run
loses the reply to some order placements after the exchange accepted them:
each such order is resolved by client id and none is sent twice.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from live_support import admin, start_emulator
from tests.stages import live_folder

from bastion.config import parse_config
from bastion.emulator import EmulatorConfig
from bastion.emulator.btcmarkets import BTCM_API_KEY, BTCM_API_SECRET
from bastion.engine.errors import LiveError
from bastion.engine.live import run_bot
from bastion.model import Instrument
from bastion.observe.journal import read_events

pytestmark = pytest.mark.slow

BTC_AUD = Instrument.spot(
    "BTC/AUD", tick_size=Decimal("0.01"), lot_size=Decimal("0.00000001"),
    min_qty=Decimal("0.00001"), min_notional=Decimal("5"),
)  # fmt: skip


def config(emu: Any, folder: Path, mode: str, exchange_id: str = "btcmarkets") -> Any:
    return parse_config(
        {
            "name": "btcm-test",
            "data_dir": str(folder),
            "exchange": {
                "id": exchange_id, "mode": mode, "base_url": emu.url, "key_env": "BASTION_BTCM",
                "bar_interval": "1s", "refresh_s": 0.5, "feed_stale_s": 5, "call_timeout_s": 1,
                "rate_limit": False, "paper_balances": {"AUD": "100000"},
            },
            "feeds": {"sources": [{"name": "rest", "kind": "rest", "poll_s": 0.5, "stall_s": 5}]},
            "strategies": [
                {
                    "name": "quoter", "symbols": ["BTC/AUD"],
                    "params": {"spread_bps": "20", "qty": "0.01", "max_inventory": "0.05",
                               "requote_bps": 0.0},
                }
            ],
        },
        "btcm-test",
    )  # fmt: skip


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("BASTION_BTCM_API_KEY", BTCM_API_KEY)
    monkeypatch.setenv("BASTION_BTCM_API_SECRET", BTCM_API_SECRET)
    thread, emu = start_emulator(
        EmulatorConfig(
            source="synthetic", rate=10, instruments=(BTC_AUD,),
            balances={"AUD": Decimal(100_000), "BTC": Decimal(0)},
        )
    )  # fmt: skip
    yield emu
    thread.stop()


def kinds(folder: Path) -> list[str]:
    return [e["kind"] for e in read_events(folder)]


def test_paper_run_on_btc_aud(emulator: Any, tmp_path: Path) -> None:
    summary = asyncio.run(run_bot(config(emulator, tmp_path, "paper"), duration_s=4))

    seen = kinds(tmp_path)
    assert seen.count("cycle") >= 2, summary
    assert "order_submitted" in seen
    assert emulator.exchange.received == []  # paper: nothing reached the exchange


def test_live_run_with_replies_lost_after_accept_sends_nothing_twice(
    emulator: Any, tmp_path: Path
) -> None:
    admin(
        emulator, "/faults",
        {"kind": "timeout_after_accept", "path": "/v3/orders", "method": "POST", "count": 2,
         "mode": "drop"},
    )  # fmt: skip

    live_folder(tmp_path)  # live mode needs a promoted folder
    asyncio.run(run_bot(config(emulator, tmp_path, "live"), duration_s=6))

    events = list(read_events(tmp_path))
    received = emulator.exchange.received
    accepted = [r.client_id for r in received if r.outcome == "accepted"]
    assert len(accepted) >= 2
    assert len(accepted) == len(set(accepted))  # no client id accepted twice
    assert len({r.client_id for r in received}) == len(received)  # none even sent twice
    resolved = [e for e in events if e["kind"] == "order_resolved"]
    assert len(resolved) >= 2


def test_live_mode_is_refused_where_no_order_can_be_found_by_client_id(
    emulator: Any, tmp_path: Path
) -> None:
    with pytest.raises(LiveError, match="cannot look an order up by client id"):
        live_folder(tmp_path)  # promoted: what refuses it is the exchange's capabilities
        asyncio.run(run_bot(config(emulator, tmp_path, "live", "independentreserve"), duration_s=1))

"""The live demo: the emulator on loopback, the bot trading it through ccxt.

Everything a live run has is on: the real ccxt client (only its URLs point
at the emulator), risk, execution with client ids, reconciliation, the
journal and the halt latch. Two strategies on 5-second bars so that two
minutes show trades: an SMA crossover on BTC/USDT and a two-sided quoter on
ETH/USDT. The market is the emulator's synthetic one, or the recorded Binance
stream from ../shared/data when it is there.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from decimal import Decimal
from pathlib import Path

from bastion.config import parse_config
from bastion.data.paths import shared_data_dir
from bastion.emulator.faults import FaultKind, FaultSpec
from bastion.emulator.server import EmulatorConfig, EmulatorThread
from bastion.engine.live import LiveSummary, Status, run_bot

EMULATOR_KEY = "bastion-emulator-key"  # the emulator's public test credentials, not secrets
EMULATOR_SECRET = "bastion-emulator-secret"


def recorded_streams() -> tuple[Path, ...]:
    data = shared_data_dir()
    if data is None:
        return ()
    return tuple(sorted((data / "ticks").glob("binance_spot_*_2024080[89].jsonl.gz")))


def run_demo(
    folder: Path, *, duration_s: float, status: Status, stall_primary_at_s: float | None = None
) -> LiveSummary:
    """``stall_primary_at_s`` (or ``BASTION_DEMO_STALL_S``): the bot runs a REST
    fallback beside its WebSocket, and the emulator silences BTC/USDT's trade
    stream once, at that second, for 20 s: the status lines show the failover
    to REST and, once the stream has been healthy for 15 s, the fail-back."""
    if stall_primary_at_s is None and os.environ.get("BASTION_DEMO_STALL_S"):
        stall_primary_at_s = float(os.environ["BASTION_DEMO_STALL_S"])
    if folder.exists():
        shutil.rmtree(folder)  # a demo starts from nothing; its emulator does too
    streams = recorded_streams()
    emu_config = EmulatorConfig(
        source="files" if streams else "synthetic",
        source_paths=streams,
        balances={"USDT": Decimal(100_000)},
        rate=20.0,
        faults=_demo_stall(stall_primary_at_s),
    )
    thread = EmulatorThread(emu_config)
    emu = thread.start()
    market = "recorded Binance stream 2024-08-08/09" if streams else "SYNTHETIC market"
    status(f"emulator on {emu.url} ({market}); the bot connects through ccxt")
    if stall_primary_at_s is not None:
        status(
            f"on purpose: BTC/USDT's trade stream goes silent at {stall_primary_at_s:.0f} s "
            "for 20 s; watch the feed fail over to REST polling and back"
        )
    os.environ.setdefault("BASTION_DEMO_API_KEY", EMULATOR_KEY)
    os.environ.setdefault("BASTION_DEMO_API_SECRET", EMULATOR_SECRET)
    config = parse_config(
        {
            "name": "demo",
            "data_dir": str(folder),
            "exchange": {
                "id": "binance",
                "mode": "live",
                "base_url": emu.url,
                "ws_url": emu.ws_url,
                "key_env": "BASTION_DEMO",
                "bar_interval": "5s",
                "refresh_s": 10,
                "feed_stale_s": 15,
                "call_timeout_s": 5,
            },
            "feeds": _DEMO_FEEDS if stall_primary_at_s is not None else {},
            "strategies": [
                {
                    "name": "sma_cross",
                    "symbols": ["BTC/USDT"],
                    "params": {"fast": 3, "slow": 8, "qty": "0.05"},
                },
                {
                    "name": "quoter",
                    "symbols": ["ETH/USDT"],
                    "params": {
                        "spread_bps": "6",
                        "qty": "0.5",
                        "max_inventory": "2",
                        "requote_bps": 2.0,
                    },
                },
            ],
        },
        "demo",
    )
    every = 5.0 if stall_primary_at_s is not None else 10.0
    try:
        return asyncio.run(
            run_bot(config, duration_s=duration_s, status=status, status_every_s=every)
        )
    finally:
        thread.stop()


_DEMO_FEEDS = {
    "failback_s": 15,
    "sources": [
        {"name": "ws", "kind": "ws", "stall_s": 6},
        {"name": "rest", "kind": "rest", "poll_s": 1.0, "stall_s": 10},
    ],
}


def _demo_stall(at_s: float | None) -> tuple[FaultSpec, ...]:
    if at_s is None:
        return ()
    return (
        FaultSpec(
            kind=FaultKind.WS_STALL, stream="btcusdt@trade", start_after_s=at_s, duration_s=20.0
        ),
    )

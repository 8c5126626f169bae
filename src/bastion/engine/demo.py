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
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bastion.clock import wall_ms
from bastion.config import parse_config
from bastion.data.paths import shared_data_dir
from bastion.emulator.faults import FaultKind, FaultSpec
from bastion.emulator.server import EmulatorConfig, EmulatorThread
from bastion.engine.live import LiveSummary, Status, run_bot
from bastion.engine.stage import record_stage
from bastion.state.stage import Stage

EMULATOR_KEY = "bastion-emulator-key"  # the emulator's public test credentials, not secrets
EMULATOR_SECRET = "bastion-emulator-secret"


def recorded_streams() -> tuple[Path, ...]:
    data = shared_data_dir()
    if data is None:
        return ()
    return tuple(sorted((data / "ticks").glob("binance_spot_*_2024080[89].jsonl.gz")))


@dataclass(frozen=True, slots=True)
class DemoStall:
    """The one stall the demo injects on purpose: BTC/USDT's trade stream (the
    primary, WebSocket feed) goes silent at ``at_s`` for ``for_s``; the bot
    fails over to REST polling once the primary has been quiet for
    ``detect_s`` and fails back after ``failback_s`` of health."""

    at_s: float = 20.0
    for_s: float = 20.0
    failback_s: float = 15.0
    detect_s: float = 6.0

    def needs_s(self) -> float:
        """Run length that shows the fail-back too (plus a status line or two)."""
        return self.at_s + self.for_s + self.failback_s + 15.0


def stall_from_env(default: DemoStall | None = DemoStall()) -> DemoStall | None:
    """``BASTION_DEMO_STALL_S``: unset keeps ``default``; ``0``/``off`` turns the
    stall off; a number of seconds moves it."""
    raw = os.environ.get("BASTION_DEMO_STALL_S", "").strip().lower()
    if not raw:
        return default
    if raw in ("0", "off", "no", "false"):
        return None
    try:
        at = float(raw)
    except ValueError:
        raise ValueError(
            f"BASTION_DEMO_STALL_S={raw!r}: a number of seconds, or 0/off for no stall"
        ) from None
    return DemoStall(at_s=at) if at > 0 else None


def run_demo(
    folder: Path, *, duration_s: float, status: Status, stall: DemoStall | None = DemoStall()
) -> LiveSummary:
    """With ``stall`` (the default) the bot runs a REST fallback beside its
    WebSocket and the emulator silences BTC/USDT's trade stream once, so the
    status lines show warm-up, the failover to REST and the fail-back. A run
    too short to show the fail-back gets no stall, and says so."""
    if folder.exists():
        shutil.rmtree(folder)  # a demo starts from nothing; its emulator does too
    if stall is not None and duration_s < stall.needs_s():
        status(
            f"demo: no feed stall this time: showing a failover and fail-back takes "
            f"{stall.needs_s():.0f} s, the demo runs {duration_s:.0f} s"
        )
        stall = None
    streams = recorded_streams()
    emu_config = EmulatorConfig(
        source="files" if streams else "synthetic",
        source_paths=streams,
        balances={"USDT": Decimal(100_000)},
        rate=20.0,
        faults=_demo_stall(stall),
    )
    thread = EmulatorThread(emu_config)
    emu = thread.start()
    market = "recorded Binance stream 2024-08-08/09" if streams else "SYNTHETIC market"
    status(f"emulator on {emu.url} ({market}); the bot connects through ccxt")
    if stall is not None:
        status(
            f"demo: stalling the primary feed (BTC/USDT trades over WebSocket) at "
            f"{stall.at_s:.0f} s for {stall.for_s:.0f} s on purpose to show a failover to "
            f"REST polling and the fail-back {stall.failback_s:.0f} s after it recovers "
            "(--no-stall or BASTION_DEMO_STALL_S=0 turns it off)"
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
            "feeds": _demo_feeds(stall),
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
    every = 5.0 if stall is not None else 10.0
    # The emulator's account, not an exchange's: no ladder to climb.
    record_stage(folder, Stage.LIVE, reason="demo: trades the emulator", by="demo", now=wall_ms())
    try:
        return asyncio.run(
            run_bot(config, duration_s=duration_s, status=status, status_every_s=every)
        )
    finally:
        thread.stop()


def _demo_feeds(stall: DemoStall | None) -> dict[str, object]:
    if stall is None:
        return {}
    return {
        "failback_s": stall.failback_s,
        "sources": [
            {"name": "ws", "kind": "ws", "stall_s": stall.detect_s},
            {"name": "rest", "kind": "rest", "poll_s": 1.0, "stall_s": 10},
        ],
    }


def _demo_stall(stall: DemoStall | None) -> tuple[FaultSpec, ...]:
    if stall is None:
        return ()
    return (
        FaultSpec(
            kind=FaultKind.WS_STALL,
            stream="btcusdt@trade",
            start_after_s=stall.at_s,
            duration_s=stall.for_s,
        ),
    )

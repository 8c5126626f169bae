"""``bastion emulator``: serve the emulator until interrupted.

``run_emulator`` is what the CLI command calls; ``main(argv)`` is the same
with its own argument parser, for ``python -m bastion.emulator``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from bastion.emulator.faults import FaultError, load_scenario
from bastion.emulator.server import TEST_API_KEY, TEST_API_SECRET, Emulator, EmulatorConfig


def build_config(
    *,
    port: int = 8765,
    admin_port: int | None = 8766,
    source: str = "synthetic",
    speed: float = 1.0,
    scenario: Path | None = None,
    host: str = "127.0.0.1",
    seed: int = 0,
    rate: float = 10.0,
    history: str = "",
    history_bars: int = 0,
) -> EmulatorConfig:
    """An ``EmulatorConfig`` from command-line values; ``source`` is a mode or file paths
    (comma-separated, merged by time). Raises ``ValueError`` naming the bad value."""
    kwargs: dict[str, object] = {}
    if scenario is not None:
        raw = load_scenario(scenario)
        kwargs["faults"] = tuple(raw["faults"])
        if "balances" in raw:
            from decimal import Decimal

            kwargs["balances"] = {str(a): Decimal(str(v)) for a, v in raw["balances"].items()}
    paths: tuple[Path, ...] = ()
    if source in ("synthetic", "none"):
        mode = source
    else:
        paths = tuple(Path(p) for p in source.split(","))
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise ValueError(f"--source {source!r}: no such file {', '.join(missing)}")
        mode = "files"
    if speed < 0:
        raise ValueError(f"--speed {speed}: expected 0 (as fast as possible) or a positive factor")
    past = tuple(Path(p) for p in history.split(",") if p)
    if missing := [str(p) for p in past if not p.is_file()]:
        raise ValueError(f"--history {history!r}: no such file {', '.join(missing)}")
    if history_bars < 0:
        raise ValueError(f"--history-bars {history_bars}: expected 0 or more")
    kwargs["history_paths"] = past
    kwargs["history_bars"] = history_bars
    return EmulatorConfig(
        host=host, port=port, admin_port=admin_port, source=mode, source_paths=paths,
        speed=speed, seed=seed, rate=rate, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


def run_emulator(
    *,
    port: int = 8765,
    admin_port: int | None = 8766,
    source: str = "synthetic",
    speed: float = 1.0,
    scenario: Path | None = None,
    host: str = "127.0.0.1",
    seed: int = 0,
    rate: float = 10.0,
    history: str = "",
    history_bars: int = 0,
) -> None:
    """Serve until Ctrl-C, printing where; raises ``ValueError``/``FaultError`` on bad options."""
    config = build_config(
        port=port, admin_port=admin_port, source=source, speed=speed, scenario=scenario,
        host=host, seed=seed, rate=rate, history=history, history_bars=history_bars,
    )  # fmt: skip

    async def serve() -> None:
        emu = Emulator(config)
        await emu.start()
        print(f"bastion emulator: REST {emu.url}/api/v3  WebSocket {emu.ws_url}/ws", flush=True)
        if emu.admin_port is not None:
            print(f"admin: {emu.admin_url}  (GET /faults, /orders, /state)", flush=True)
        print(f"test API key {TEST_API_KEY!r}, secret {TEST_API_SECRET!r}", flush=True)
        done = asyncio.Event()
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, done.set)
        try:
            await done.wait()
        finally:
            await emu.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bastion emulator", description="A Binance-spot-speaking exchange on loopback."
    )
    parser.add_argument("--port", type=int, default=8765, help="REST+WebSocket port (0: any)")
    parser.add_argument("--admin-port", type=int, default=8766, help="admin port (0: any)")
    parser.add_argument("--source", default="synthetic", help="synthetic, none, or FILE[,FILE]")
    parser.add_argument("--speed", type=float, default=1.0, help="replay speed (0: flat out)")
    parser.add_argument("--scenario", type=Path, help="faults and balances (TOML or JSON)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=float, default=10.0, help="synthetic steps per second")
    parser.add_argument("--history", default="", help="bar files served as past klines")
    parser.add_argument("--history-bars", type=int, default=1440, help="synthetic past klines")
    args = parser.parse_args(argv)
    try:
        run_emulator(
            port=args.port, admin_port=args.admin_port, source=args.source, speed=args.speed,
            scenario=args.scenario, host=args.host, seed=args.seed, rate=args.rate,
            history=args.history, history_bars=args.history_bars,
        )  # fmt: skip
    except (ValueError, FaultError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0

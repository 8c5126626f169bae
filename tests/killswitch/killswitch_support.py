"""Factories for kill-switch tests: an emulator holding positions and resting
orders, a bot config aimed at it, and the bot and the sentinel as processes.

The emulator runs on a thread of the test process (so a SIGSTOP of the bot
does not stop it); the bot and the sentinel are subprocesses, as in production.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.stages import live_folder

from bastion.config import load_config
from bastion.emulator.server import (
    DEFAULT_INSTRUMENTS,
    TEST_API_KEY,
    TEST_API_SECRET,
    Emulator,
    EmulatorConfig,
    EmulatorThread,
)
from bastion.model import Instrument, OrderRequest, OrderType, Side, StrategyRef
from bastion.venues.ccxt import CcxtVenue, Credentials

TOKEN = "test-kill-token-7f3a"
KEY_ENV = "KSTEST"
EXTRA = tuple(
    Instrument.spot(
        f"{base}/USDT",
        tick_size=Decimal("0.01"),
        lot_size=Decimal("0.001"),
        min_qty=Decimal("0.001"),
        min_notional=Decimal("5"),
    )
    for base in ("SOL", "BNB", "XRP")
)
INSTRUMENTS = DEFAULT_INSTRUMENTS + EXTRA
PRICES = {"BTC": "60000", "ETH": "3000", "SOL": "150", "BNB": "500", "XRP": "100"}
HOLDINGS = {"BTC": "1", "ETH": "10", "SOL": "100", "BNB": "20", "XRP": "300"}
LOT = {"BTC": "0.01", "ETH": "0.1", "SOL": "1", "BNB": "0.5", "XRP": "5"}
THREE = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]


def env() -> dict[str, str]:
    """The environment for the bot and the sentinel: test keys and the token."""
    return {
        **os.environ,
        f"{KEY_ENV}_API_KEY": TEST_API_KEY,
        f"{KEY_ENV}_API_SECRET": TEST_API_SECRET,
        "BASTION_KILL_TOKEN": TOKEN,
        "PYTHONUNBUFFERED": "1",
    }


@contextlib.contextmanager
def emulator(symbols: int = 3, latency_ms: float = 0) -> Iterator[tuple[Emulator, EmulatorThread]]:
    bases = [s.split("/")[0] for s in (i.symbol for i in INSTRUMENTS[:symbols])]
    balances = {"USDT": Decimal(1_000_000)} | {b: Decimal(HOLDINGS[b]) for b in bases}
    thread = EmulatorThread(
        EmulatorConfig(instruments=INSTRUMENTS[:symbols], balances=balances, rate=20.0)
    )
    emu = thread.start()
    try:
        if latency_ms:
            admin(emu, "/faults", {"kind": "latency", "ms": latency_ms})
        yield emu, thread
    finally:
        thread.stop()


def admin(emu: Emulator, path: str, body: Any = None, method: str | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{emu.admin_url}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def venue(emu: Emulator, symbols: list[str]) -> CcxtVenue:
    v = CcxtVenue(
        "binance",
        symbols,
        credentials=Credentials(TEST_API_KEY, TEST_API_SECRET),
        base_url=emu.url,
        ws_url=emu.ws_url,
        rate_limit=False,
        private_stream=False,
        call_timeout_s=5,
    )
    v.start()
    return v


def place_resting(emu: Emulator, symbols: list[str], per_side: int = 1) -> int:
    """Limit orders well away from the market on both sides of every symbol."""
    v = venue(emu, symbols)
    ref = StrategyRef(id="setup", version="1")
    n = 0
    try:
        for sym in symbols:
            base = sym.split("/")[0]
            for k in range(per_side):
                for side, f in ((Side.BUY, Decimal("0.8")), (Side.SELL, Decimal("1.2"))):
                    n += 1
                    price = (Decimal(PRICES[base]) * (f + Decimal(k) / 100)).quantize(
                        Decimal("0.01")
                    )
                    v.submit(
                        OrderRequest(
                            client_id=f"bnsetup{n}",
                            strategy=ref,
                            symbol=sym,
                            side=side,
                            qty=Decimal(LOT[base]),
                            type=OrderType.LIMIT,
                            price=price,
                        )
                    )
    finally:
        v.close()
    return n


def exchange_state(emu: Emulator, symbols: list[str]) -> tuple[dict[str, Decimal], int]:
    """Holdings of the symbols' base assets, and the number of open orders."""
    state = admin(emu, "/state")
    bases = {s.split("/")[0] for s in symbols}
    held = {
        a: Decimal(b["free"]) + Decimal(b["locked"])
        for a, b in state["balances"].items()
        if a in bases and Decimal(b["free"]) + Decimal(b["locked"]) > 0
    }
    return held, len(state["openOrders"])


def write_config(
    folder: Path,
    emu: Emulator,
    *,
    symbols: list[str] = THREE,
    port: int = 0,
    strategy: str = "sma",
    bar: str = "1s",
    killswitch: dict[str, Any] | None = None,
    adopt: list[str] | None = None,
    extra: str = "",
) -> Path:
    """A bot.toml for the emulator; ``strategy``: "sma" (trades now and then) or
    "quoter" (re-quotes every cycle: the runaway). The account's holdings are
    adopted as the bot's unless ``adopt`` says which (``[]``: none, so they are
    the baseline a kill in bot scope leaves). ``extra``: more TOML, appended."""
    adopted = sorted(HOLDINGS) if adopt is None else adopt
    if strategy == "quoter":
        strats = [
            f'[[strategies]]\nname = "quoter"\nsymbols = ["{s}"]\n'
            f'params = {{ spread_bps = "20", qty = "{LOT[s.split("/")[0]]}", '
            f'max_inventory = "1000", requote_bps = 0.0 }}\n'
            for s in symbols
        ]
    else:
        strats = [
            f'[[strategies]]\nname = "sma_cross"\nsymbols = ["{s}"]\n'
            f'params = {{ fast = 2, slow = 3, qty = "{LOT[s.split("/")[0]]}" }}\n'
            for s in symbols
        ]
    ks = {"port": port, "deadline_s": 20.0, **(killswitch or {})}
    ks_lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in ks.items())
    text = f"""name = "kstest"
data_dir = "{folder / "data"}"

[exchange]
id = "binance"
mode = "live"
base_url = "{emu.url}"
ws_url = "{emu.ws_url}"
key_env = "{KEY_ENV}"
bar_interval = "{bar}"
refresh_s = 5
feed_stale_s = 10
call_timeout_s = 2
rate_limit = false

[risk]
max_position = 10
max_order = 10
max_gross_exposure = 20
max_net_exposure = 20

[risk.rate]
enabled = false

[account]
adopt = {json.dumps(adopted)}

[killswitch]
{ks_lines}

{"".join(strats)}
{extra}"""
    path = folder / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen(
        [sys.executable, *args], env=env(), stdout=out, stderr=subprocess.STDOUT
    )


def start_bot(config: Path, log: Path) -> subprocess.Popen[bytes]:
    # Live mode needs a promoted folder; staged here, not with the config: a kill
    # of a bot that never ran must still find no folder (or a bot's).
    live_folder(Path(load_config(config).data_dir))
    return spawn(["-m", "bastion.cli", "run", "--config", str(config)], log)


def start_sentinel(config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    proc = spawn(["-m", "bastion.killswitch", "sentinel", "--config", str(config)], log)
    wait_for(lambda: _up(port), 30, f"sentinel on {port}", log)
    return proc


def _up(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
            return True
    except OSError:
        return False


def http(
    port: int, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def heartbeat(data_dir: Path) -> int | None:
    try:
        db = sqlite3.connect(f"file:{data_dir / 'state.sqlite'}?mode=ro", uri=True, timeout=0.5)
        try:
            row = db.execute("SELECT value FROM kv WHERE key = 'heartbeat'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return int(row[0]) if row else None


def wait_for(check: Any, timeout: float, what: str, log: Path | None = None) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End a test's own process, whatever state it is in (SIGSTOPped included)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGCONT)
            proc.kill()
    proc.wait(10)


def bot_orders_after(emu: Emulator, since_ms: int) -> list[dict[str, Any]]:
    """Strategy orders (``bn``) the exchange received after ``since_ms``."""
    rows = admin(emu, "/orders")["orders"]
    return [r for r in rows if str(r.get("client_id", "")).startswith("bn") and _ts(r) > since_ms]


def _ts(row: dict[str, Any]) -> int:
    for key in ("received_ms", "ts"):
        if key in row:
            return int(row[key])
    raise KeyError(f"no timestamp in {sorted(row)}")

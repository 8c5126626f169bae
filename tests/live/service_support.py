"""``bastion run`` as an operator runs it: a subprocess, against the exchange
emulator on a thread of the test process, through the real ccxt client."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.stages import live_folder

from bastion.emulator import TEST_API_KEY, TEST_API_SECRET, Emulator, EmulatorConfig, EmulatorThread
from bastion.observe.journal import read_events

KEY_ENV = "SVCTEST"
SYMBOL = "BTC/USDT"


def env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        f"{KEY_ENV}_API_KEY": TEST_API_KEY,
        f"{KEY_ENV}_API_SECRET": TEST_API_SECRET,
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
        **extra,
    }


@contextlib.contextmanager
def emulator() -> Iterator[Emulator]:
    thread = EmulatorThread(
        EmulatorConfig(balances={"USDT": Decimal(100_000), "BTC": Decimal(1)}, rate=20.0)
    )
    emu = thread.start()
    try:
        yield emu
    finally:
        thread.stop()


def admin(emu: Emulator, path: str, body: Any = None, method: str | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{emu.admin_url}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def write_config(
    folder: Path, emu: Emulator, *, service: str = "", strategy: str = "quoter"
) -> Path:
    """A live bot on the emulator: a quoter (orders resting every cycle) or sma_cross."""
    if strategy == "quoter":
        params = 'spread_bps = "50", qty = "0.001", max_inventory = "1", requote_bps = 0.0'
    else:
        params = 'fast = 2, slow = 3, qty = "0.001"'
    text = f"""name = "svctest"
data_dir = "{folder / "data"}"

[exchange]
id = "binance"
mode = "live"
base_url = "{emu.url}"
ws_url = "{emu.ws_url}"
key_env = "{KEY_ENV}"
bar_interval = "1s"
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

[service]
retry_base_s = 0.2
retry_max_s = 1.0
{service}

[[strategies]]
name = "{strategy}"
symbols = ["{SYMBOL}"]
params = {{ {params} }}
"""
    path = folder / "bot.toml"
    path.write_text(text, encoding="utf-8")
    live_folder(folder / "data")  # live mode needs a promoted folder
    return path


def spawn(config: Path, log: Path, *args: str, **env_extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bastion.cli", "run", "--config", str(config), *args],
        env=env(**env_extra),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def run(config: Path, *args: str, timeout: float = 120, **env_extra: str):
    return subprocess.run(
        [sys.executable, "-m", "bastion.cli", "run", "--config", str(config), *args],
        env=env(**env_extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log is not None else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def events(data: Path, *kinds: str) -> list[dict[str, Any]]:
    if not (data / "journal.sqlite").exists():
        return []
    return list(read_events(data, kinds=list(kinds) or None))


def open_orders(emu: Emulator) -> list[dict[str, Any]]:
    return [o for o in admin(emu, "/state")["openOrders"]]


def terminate(proc: subprocess.Popen[bytes], timeout: float = 60, sig: int = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise

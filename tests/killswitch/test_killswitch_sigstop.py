"""A kill is final, with real processes: a bot hung (SIGSTOP) at a seeded step
of a cycle is killed, the kill returns, the bot is woken (SIGCONT), and the
emulator accepts no order of the bot's after the kill returned.

Found before the send check existed: a bot hung inside its account read,
killed, then resumed, placed a new buy after the kill reported FLAT (2 of 10
trials). Each trial: its own emulator (a thread of the test process, so the
SIGSTOP does not freeze it, reached through the real ccxt client), its own
bot process (``stopbot.py``: the production session cycling back to back),
and ``KillSwitch.kill``, the code ``bastion kill`` runs, with its wait for
the bot's acknowledgement. Trials run a few at a time: most of a trial is
that wait (the bot is frozen and never acknowledges).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from killswitch_support import (
    KEY_ENV,
    admin,
    emulator,
    env,
    exchange_state,
    heartbeat,
    stop,
    wait_for,
    write_config,
)
from stopbot import POINTS

from bastion.config import load_config
from bastion.killswitch.kill import KillSwitch

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BOT = Path(__file__).with_name("stopbot.py")
SYMBOLS = ["BTC/USDT"]
TRIALS = 20
AT_ONCE = 4


def _stopped(proc: subprocess.Popen[bytes]) -> bool:
    try:
        stat = Path(f"/proc/{proc.pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "T"


def trial(folder: Path, point: str, nth: int) -> dict[str, Any]:
    folder.mkdir(parents=True)
    with emulator(symbols=1) as (emu, _):
        cfg = write_config(folder, emu, symbols=SYMBOLS)
        log = folder / "bot.log"
        bot = subprocess.Popen(
            [sys.executable, str(BOT), str(cfg), point, str(nth)],
            env=env() | {"PYTHONPATH": f"{ROOT}:{ROOT / 'tests' / 'killswitch'}"},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        try:
            wait_for(lambda: _stopped(bot) or bot.poll() is not None, 60, f"a stop at {point}", log)
            assert bot.poll() is None, log.read_text()[-3000:]
            switch = KillSwitch(load_config(cfg), folder / "data")
            try:
                report = switch.kill(reason="test kill", by="test")
            finally:
                switch.close()
            returned = int(admin(emu, "/state")["serverTime"])
            bot.send_signal(signal.SIGCONT)
            wait_for(
                lambda: (heartbeat(folder / "data") or 0) > returned,
                30,
                "a cycle after waking",
                log,
            )
            time.sleep(0.5)
            late = [
                o
                for o in admin(emu, "/orders")["orders"]
                if str(o.get("client_id", ""))[:2] in ("bn", "bx")
                and int(o.get("received_ms", o.get("ts", 0))) > returned
            ]
            return {
                "point": point,
                "nth": nth,
                "ok": report["ok"],
                "report": report,
                "late": late,
                "state": exchange_state(emu, SYMBOLS),
                "log": log.read_text(errors="replace")[-1500:],
            }
        finally:
            stop(bot)


def test_a_bot_hung_at_any_step_of_a_cycle_sends_nothing_after_the_kill_returns(
    tmp_path, monkeypatch
):
    for key, value in env().items():
        if key.startswith(KEY_ENV):
            monkeypatch.setenv(key, value)  # the kill reads the keys as `bastion kill` does
    rng = random.Random(2026)
    plan = [(POINTS[i % len(POINTS)], rng.randint(2, 4)) for i in range(TRIALS)]
    with ThreadPoolExecutor(AT_ONCE) as pool:
        results = list(pool.map(lambda a: trial(tmp_path / f"t{a[0]}", *a[1]), enumerate(plan)))

    for r in results:
        assert r["ok"], r
        assert r["late"] == [], (r["point"], r["nth"], r["late"], r["log"])
        assert r["state"] == ({}, 0), r

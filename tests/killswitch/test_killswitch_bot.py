"""End to end: the bot as a process (dead, hung, runaway, or with its database
locked), the sentinel as a process, the emulator on loopback, the real ccxt
client in between. Each test: positions in three symbols and resting orders on
both sides, then ``POST /kill``: flat, no open orders, and the bot does not
trade again until resumed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from killswitch_support import (
    THREE,
    TOKEN,
    admin,
    bot_orders_after,
    emulator,
    exchange_state,
    free_port,
    heartbeat,
    http,
    place_resting,
    start_bot,
    start_sentinel,
    stop,
    wait_for,
    write_config,
)

from bastion.observe.journal import read_events
from bastion.state.store import StateStore

pytestmark = pytest.mark.slow


def _arrange(tmp_path: Path, emu, strategy: str = "sma"):
    place_resting(emu, THREE)
    port = free_port()
    cfg = write_config(tmp_path, emu, port=port, strategy=strategy)
    data = tmp_path / "data"
    bot = start_bot(cfg, tmp_path / "bot.log")
    sentinel = start_sentinel(cfg, port, tmp_path / "sentinel.log")
    wait_for(lambda: heartbeat(data), 30, "the bot's first cycle", tmp_path / "bot.log")
    held, n_open = exchange_state(emu, THREE)
    assert len(held) == 3 and n_open >= 6, (held, n_open)
    return cfg, data, port, bot, sentinel


def _kill(port: int) -> dict:
    status, report = http(port, "POST", "/kill", TOKEN, {"reason": "test"})
    assert status == 200, report
    assert report["ok"], report
    return report


def _assert_restart_stays_halted(emu, cfg: Path, data: Path, log: Path) -> None:
    """A new bot process starts HALTED from the flag and sends no order."""
    since = admin(emu, "/state")["serverTime"]
    bot = start_bot(cfg, log)
    try:
        wait_for(lambda: (heartbeat(data) or 0) > since, 30, "a cycle after restart", log)
        first = heartbeat(data) or 0
        wait_for(lambda: (heartbeat(data) or 0) > first + 1500, 15, "two more cycles", log)
        assert bot_orders_after(emu, since) == []
        assert exchange_state(emu, THREE) == ({}, 0)
    finally:
        stop(bot)
    with StateStore(data) as store:
        latch = store.load_latch()
    assert latch is not None and latch.state == "HALTED"
    assert "KILL" in latch.reason


def test_bot_killed_with_sigkill_then_kill_flattens_and_restart_stays_halted(tmp_path):
    with emulator() as (emu, _):
        cfg, data, port, bot, sentinel = _arrange(tmp_path, emu)
        try:
            bot.send_signal(signal.SIGKILL)
            bot.wait(10)

            report = _kill(port)

            assert exchange_state(emu, THREE) == ({}, 0)
            assert not report["bot_ack"].startswith("halted")  # nobody cycled after the flag
            assert report["halt"]["store"] == "written"
            assert (data / "KILLED").exists()
            _assert_restart_stays_halted(emu, cfg, data, tmp_path / "bot2.log")
        finally:
            stop(bot)
            stop(sentinel)


def test_hung_bot_sigstop_is_flattened_and_halts_when_it_wakes(tmp_path):
    with emulator() as (emu, _):
        cfg, data, port, bot, sentinel = _arrange(tmp_path, emu)
        try:
            bot.send_signal(signal.SIGSTOP)
            time.sleep(0.3)

            report = _kill(port)

            assert exchange_state(emu, THREE) == ({}, 0)
            assert bot.poll() is None  # still there, still hung
            woke = admin(emu, "/state")["serverTime"]
            bot.send_signal(signal.SIGCONT)
            wait_for(lambda: (heartbeat(data) or 0) > woke, 20, "a cycle after waking")
            after = heartbeat(data) or 0
            time.sleep(2.0)
            assert bot_orders_after(emu, after) == []
            kinds = [e["kind"] for e in read_events(data / "journal.sqlite")]
            assert "kill_flag" in kinds
            # anything a cycle already under way sent when it woke is swept by a second press
            again = _kill(port)
            assert again["ok"] and exchange_state(emu, THREE) == ({}, 0)
            assert report["halt"]["store"] == "written"
        finally:
            stop(bot)
            stop(sentinel)
        _assert_restart_stays_halted(emu, cfg, data, tmp_path / "bot2.log")


def test_runaway_bot_requoting_every_cycle_is_flattened_and_halts_itself(tmp_path):
    with emulator() as (emu, _):
        cfg, data, port, bot, sentinel = _arrange(tmp_path, emu, strategy="quoter")
        try:
            wait_for(lambda: len(bot_orders_after(emu, 0)) >= 12, 20, "the quoter re-quoting")

            report = _kill(port)

            assert report["bot_ack"].startswith("halted"), report["bot_ack"]
            assert exchange_state(emu, THREE) == ({}, 0)
            ack = heartbeat(data) or 0
            wait_for(lambda: (heartbeat(data) or 0) > ack + 1500, 15, "two more cycles")
            assert bot.poll() is None  # alive and cycling, but halted
            assert bot_orders_after(emu, ack) == []
            assert exchange_state(emu, THREE) == ({}, 0)
        finally:
            stop(bot)
            stop(sentinel)
        _assert_restart_stays_halted(emu, cfg, data, tmp_path / "bot2.log")


# An exclusive (write) transaction held open: in WAL mode readers carry on,
# every writer (the bot's heartbeat and latch, ``bastion halt``) waits and fails.
LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=20)
db.execute("BEGIN EXCLUSIVE")
db.execute("CREATE TABLE IF NOT EXISTS locked_by_test (x)")
print("locked", flush=True)
sys.stdin.read()
"""


def test_locked_state_database_kill_flattens_through_the_flag_file(tmp_path):
    with emulator() as (emu, _):
        cfg, data, port, bot, sentinel = _arrange(tmp_path, emu)
        locker = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(data / "latch.sqlite")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        try:
            assert locker.stdout is not None and locker.stdout.readline().strip() == b"locked"

            report = _kill(port)

            assert exchange_state(emu, THREE) == ({}, 0)
            assert report["halt"]["store"] != "written"  # the database refused it
            assert (data / "KILLED").exists()
            # The bot's next cycle halts from the flag: journaled (the journal is
            # another file) even while its state database stays locked.
            flagged = wait_for(
                lambda: [
                    e for e in read_events(data / "journal.sqlite") if e["kind"] == "kill_flag"
                ],
                30,
                "the bot to read the flag",
                tmp_path / "bot.log",
            )
            assert "locked" in flagged[0].get("persist_error", "")
            assert bot_orders_after(emu, flagged[0]["ts"]) == []
        finally:
            if locker.stdin is not None:
                locker.stdin.close()
            locker.wait(10)
            stop(bot)
            stop(sentinel)
        _assert_restart_stays_halted(emu, cfg, data, tmp_path / "bot2.log")

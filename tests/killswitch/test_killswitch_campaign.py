"""The chaos campaign, short, through the real stack: a live bot process on the
emulator through ccxt, on an account that holds more than the bot trades,
taken through a seeded schedule of SIGKILLs, hangs (SIGSTOP) with a kill
landing on them, kills of a running bot, injected 5xx/timeouts/429s, and
deposits and hand trades that are not the bot's. After every step, from the
exchange's own records: no order of the bot's arrived after a kill returned
(until the operator resumed), the account never held less than what is not
the bot's, no client id was accepted twice; at the end, the journal holds
every order and fill the bot's order store holds."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from killswitch_support import (
    admin,
    emulator,
    env,
    heartbeat,
    start_bot,
    stop,
    wait_for,
    write_config,
)

from bastion.observe.journal import read_events

pytestmark = pytest.mark.slow

SYMBOL = "BTC/USDT"
ROOT = Path(__file__).resolve().parents[2]
ACTIONS = ("sigkill", "hang_kill", "kill", "faults", "deposit", "hand_trade")


def _btc(emu) -> Decimal:
    b = admin(emu, "/state")["balances"].get("BTC", {"free": "0", "locked": "0"})
    return Decimal(b["free"]) + Decimal(b["locked"])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bastion.cli", *args],
        capture_output=True,
        text=True,
        env=env(),
        timeout=90,
        check=False,
        cwd=ROOT,
    )


def _cycles(data: Path, log: Path, n: int = 2) -> None:
    first = heartbeat(data) or 0
    wait_for(lambda: (heartbeat(data) or 0) > first + 1000 * n, 45, f"{n} cycles", log)


@pytest.mark.parametrize("seed", [7])
def test_short_campaign_through_the_emulator(tmp_path, seed):
    rng = random.Random(seed)
    with emulator(symbols=1) as (emu, _):
        foreign = _btc(emu)  # the account's holdings before the bot's first start
        assert foreign > 0
        cfg = write_config(
            tmp_path, emu, symbols=[SYMBOL], killswitch={"deadline_s": 20.0}, adopt=[]
        )
        data = tmp_path / "data"
        quiet: list[tuple[int, int]] = []  # (kill returned, resumed): no bot order in between
        done: Counter[str] = Counter()
        log = tmp_path / "bot-0.log"
        bot = start_bot(cfg, log)
        try:
            wait_for(lambda: heartbeat(data), 60, "the bot's first cycle", log)
            for step in range(8):
                action = ACTIONS[step] if step < len(ACTIONS) else rng.choice(ACTIONS)
                done[action] += 1
                if action == "sigkill":
                    bot.send_signal(signal.SIGKILL)
                    bot.wait(10)
                elif action in ("hang_kill", "kill"):
                    if action == "hang_kill":
                        bot.send_signal(signal.SIGSTOP)
                        time.sleep(rng.uniform(0.0, 0.8))
                    killed = _cli("kill", "--config", str(cfg), "--reason", "campaign")
                    returned = admin(emu, "/state")["serverTime"]
                    assert killed.returncode == 0, killed.stdout + killed.stderr
                    assert _btc(emu) >= foreign  # the kill left what is not the bot's
                    if action == "hang_kill":
                        bot.send_signal(signal.SIGCONT)
                    time.sleep(1.5)  # a woken bot gets its chance to misbehave
                    stop(bot)
                    resumed = _cli("resume", "--config", str(cfg), "--reason", "campaign")
                    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
                    quiet.append((returned, admin(emu, "/state")["serverTime"]))
                elif action == "faults":
                    admin(
                        emu,
                        "/faults",
                        [
                            {"kind": "http_error", "status": rng.choice([500, 503]), "count": 2},
                            {"kind": "rate_limit", "count": 1},
                            {
                                "kind": "timeout_after_accept",
                                "path": "/api/v3/order",
                                "method": "POST",
                                "count": 1,
                                "hang_s": 3.0,
                            },
                        ],
                    )
                elif action == "deposit":
                    extra = Decimal("0.5")
                    admin(emu, "/balances", {"BTC": str(_btc(emu) + extra)})
                    foreign += extra
                elif action == "hand_trade":
                    sold = Decimal("0.2")
                    admin(
                        emu,
                        "/manual_trade",
                        {"symbol": SYMBOL, "side": "SELL", "quantity": str(sold)},
                    )
                    foreign -= sold
                if bot.poll() is not None:
                    log = tmp_path / f"bot-{step + 1}.log"
                    bot = start_bot(cfg, log)
                _cycles(data, log, 3)
                assert _btc(emu) >= foreign, (action, _btc(emu), foreign)
        finally:
            stop(bot)
        admin(emu, "/faults", method="DELETE")

        rows = admin(emu, "/orders")["orders"]
        ours = [r for r in rows if str(r["client_id"]).startswith(("bn", "bx"))]
        assert ours, "the bot never traded: the campaign proved nothing"
        late = [r for r in ours for a, b in quiet if a < int(r["received_ms"]) < b]
        assert late == [], late
        accepted = Counter(r["client_id"] for r in rows if r.get("outcome") == "accepted")
        assert [c for c, n in accepted.items() if n > 1] == []
        db = sqlite3.connect(f"file:{data / 'state.sqlite'}?mode=ro", uri=True)
        try:
            stored = {r[0] for r in db.execute("SELECT client_id FROM orders")}
            stored_fills = {r[0] for r in db.execute("SELECT trade_id FROM fills")}
        finally:
            db.close()
        journaled = {e["client_id"] for e in read_events(data, kinds=["order_submitted"])}
        journaled_fills = {e["trade_id"] for e in read_events(data, kinds=["fill"])}
        assert stored - journaled == set()
        assert stored_fills - journaled_fills == set()
        assert done["sigkill"] and done["hang_kill"] and done["kill"]

"""Paper is paper everywhere: a paper bot's account is its paper book in the
data folder, a restart continues it, and a kill (``bastion kill`` or the
sentinel) on a paper config acts on that book and sends nothing to the
exchange, with the exchange's keys in the environment. The exchange here is
the emulator holding real-looking holdings and the operator's own resting
orders, through the real ccxt client; the bot and the kill are processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from killswitch_support import (
    TOKEN,
    admin,
    emulator,
    env,
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

from bastion.clock import wall_ms
from bastion.observe.journal import read_events
from bastion.state.orders import OrderStore
from bastion.venues.sim.paper import PaperVenue

pytestmark = pytest.mark.slow

BTC = ["BTC/USDT"]
SIGNED = ("/api/v3/order", "/api/v3/openOrders", "/api/v3/account", "/api/v3/myTrades")


def paper_config(tmp: Path, emu: Any, *, port: int = 0, strategy: str = "quoter") -> Path:
    """A paper bot on BTC/USDT (quoter: resting paper orders; sma: fills) holding
    0.5 paper BTC, its keys exported all the same (``env()``)."""
    cfg = write_config(tmp, emu, symbols=BTC, port=port, strategy=strategy)
    text = cfg.read_text(encoding="utf-8").replace(
        'mode = "live"',
        'mode = "paper"\npaper_balances = { USDT = "100000", BTC = "0.5" }',
    )
    cfg.write_text(text, encoding="utf-8")
    return cfg


def book(data: Path) -> dict[str, Any]:
    """The paper book as a kill would read it."""
    pv = PaperVenue.attach(data, clock=wall_ms)
    assert pv is not None, f"no paper book in {data}"
    try:
        acct = pv.fetch_account()
        return {
            "balances": {a: b.total for a, b in acct.balances.items() if b.total},
            "positions": {s: p.qty for s, p in acct.positions.items() if p.qty},
            "open": sorted(o.client_id for o in acct.open_orders),
            "fills": [f.trade_id for f in pv.fetch_fills()],
        }
    finally:
        pv.close()


def booked(data: Path, key: str) -> Any:
    """One part of the book, or nothing while the bot has not created it yet."""
    pv = PaperVenue.attach(data, clock=wall_ms)
    if pv is None:
        return None
    pv.close()
    return book(data)[key]


def signed_calls(emu: Any) -> dict[str, int]:
    calls = admin(emu, "/requests")["requests"]
    return {k: v for k, v in calls.items() if k.split(" ", 1)[1] in SIGNED}


def _arrange(tmp: Path, emu: Any, port: int = 0) -> tuple[Path, Path, Any, dict[str, Any]]:
    """The operator's real resting orders on the exchange, then a paper bot with
    a position and resting paper orders."""
    place_resting(emu, BTC)
    cfg = paper_config(tmp, emu, port=port)
    data = tmp / "data"
    bot = start_bot(cfg, tmp / "bot.log")
    wait_for(lambda: heartbeat(data), 40, "the paper bot's first cycle", tmp / "bot.log")
    wait_for(lambda: booked(data, "open"), 30, "resting paper orders", tmp / "bot.log")
    before = book(data)
    assert before["positions"].get("BTC/USDT", 0) > 0 and before["open"], before
    return cfg, data, bot, before


def _exchange(emu: Any) -> tuple[Any, list[Any], list[Any]]:
    state = admin(emu, "/state")
    return state["balances"], state["openOrders"], admin(emu, "/orders")["orders"]


def _assert_paper_killed(emu: Any, data: Path, report: dict[str, Any], untouched: Any) -> None:
    assert report["ok"], report
    assert report["mode"] == "paper" and "paper book" in report["acts_on"]
    assert report["closes"] and report["cancelled"]  # it did act: on the paper book
    after = book(data)
    assert after["positions"] == {} and after["open"] == [], after
    # the exchange: not one order, cancel or account call; holdings and orders as they were
    calls, balances, resting, received = untouched
    assert signed_calls(emu) == calls
    assert _exchange(emu) == (balances, resting, received)
    assert Decimal(balances["BTC"]["free"]) + Decimal(balances["BTC"]["locked"]) == 1


def _assert_stays_flat(data: Path, since_ms: int, log: Path) -> None:
    """The bot, alive, reloads the kill's book, halts from the flag, and trades no more."""
    wait_for(lambda: (heartbeat(data) or 0) > since_ms + 1500, 20, "cycles after the kill", log)
    after = book(data)
    assert after["positions"] == {} and after["open"] == [], after


def test_paper_kill_from_the_cli_acts_on_the_paper_book_and_sends_nothing(tmp_path):
    with emulator(symbols=1) as (emu, _):
        cfg, data, bot, _ = _arrange(tmp_path, emu)
        try:
            untouched = (signed_calls(emu), *_exchange(emu))
            t0 = wall_ms()

            done = subprocess.run(
                [sys.executable, "-m", "bastion.cli", "kill", "--config", str(cfg), "--json"],
                env=env(), capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip

            assert done.returncode == 0, done.stdout + done.stderr
            _assert_paper_killed(emu, data, json.loads(done.stdout), untouched)
            _assert_stays_flat(data, t0, tmp_path / "bot.log")
            kinds = [e["kind"] for e in read_events(data / "journal.sqlite")]
            assert "kill_flag" in kinds
        finally:
            stop(bot)


def test_paper_kill_from_the_sentinel_acts_on_the_paper_book_and_sends_nothing(tmp_path):
    with emulator(symbols=1) as (emu, _):
        port = free_port()
        cfg, data, bot, _ = _arrange(tmp_path, emu, port)
        sentinel = start_sentinel(cfg, port, tmp_path / "sentinel.log")
        try:
            code, status = http(port, "GET", "/status", TOKEN)
            assert code == 200, status
            assert (status["bot"], status["exchange"], status["mode"]) == (
                "kstest", "binance", "paper",
            )  # fmt: skip
            assert "paper book" in status["acts_on"]
            assert Decimal(status["positions"]["BTC/USDT"]) > 0  # the paper position
            assert status["open_orders"]  # the paper orders, not the exchange's
            assert all(o["client_id"].startswith("bn") for o in status["open_orders"])
            assert not any(o["client_id"].startswith("bnsetup") for o in status["open_orders"])
            untouched = (signed_calls(emu), *_exchange(emu))
            t0 = wall_ms()

            code, report = http(port, "POST", "/kill", TOKEN, {"reason": "test"})

            assert code == 200, report
            _assert_paper_killed(emu, data, report, untouched)
            _assert_stays_flat(data, t0, tmp_path / "bot.log")
        finally:
            stop(bot)
            stop(sentinel)


def test_paper_restart_continues_the_book_it_left(tmp_path):
    with emulator(symbols=1) as (emu, _):
        cfg = paper_config(tmp_path, emu, strategy="sma")
        data = tmp_path / "data"
        bot = start_bot(cfg, tmp_path / "bot.log")
        try:
            wait_for(lambda: booked(data, "fills"), 60, "a paper fill", tmp_path / "bot.log")
        finally:
            stop(bot)
        left = book(data)
        assert left["balances"] != {"USDT": Decimal(100000), "BTC": Decimal("0.5")}

        bot = start_bot(cfg, tmp_path / "bot2.log")
        try:
            since = wall_ms()
            wait_for(lambda: (heartbeat(data) or 0) > since, 40, "a cycle", tmp_path / "bot2.log")
        finally:
            stop(bot)
        starts = [e for e in read_events(data / "journal.sqlite") if e["kind"] == "paper_book"]
        assert [e["continued"] for e in starts] == [False, True]
        assert starts[1]["balances"] == {a: str(q) for a, q in left["balances"].items()}
        again = book(data)
        assert again["fills"][: len(left["fills"])] == left["fills"]  # history kept


def test_paper_restart_keeps_resting_orders(tmp_path):
    with emulator(symbols=1) as (emu, _):
        cfg = paper_config(tmp_path, emu, strategy="quoter")
        data = tmp_path / "data"
        bot = start_bot(cfg, tmp_path / "bot.log")
        try:
            wait_for(lambda: booked(data, "open"), 40, "resting paper orders", tmp_path / "bot.log")
        finally:
            stop(bot)
        left = book(data)

        bot = start_bot(cfg, tmp_path / "bot2.log")
        try:
            since = wall_ms()
            wait_for(lambda: (heartbeat(data) or 0) > since, 40, "a cycle", tmp_path / "bot2.log")
        finally:
            stop(bot)
        recovered = [e for e in read_events(data / "journal.sqlite") if e["kind"] == "recovered"]
        # the second start re-learned every resting order from the book: none unknown
        assert recovered[-1]["orders_checked"] >= len(left["open"]) > 0
        assert recovered[-1]["still_unknown"] == []


def test_live_kill_whose_closes_the_exchange_refuses_is_not_flat(tmp_path):
    with emulator(symbols=1) as (emu, _):
        cfg = write_config(tmp_path, emu, symbols=BTC)
        OrderStore(tmp_path / "data" / "state.sqlite").close()  # a bot's folder, its bot dead
        # every close refused with a reason the kill cannot foresee or fix
        fault = {"kind": "api_error", "path": "/api/v3/order", "method": "POST", "status": 400}
        admin(emu, "/faults", fault | {"msg": "Filter failure: MARKET_LOT_SIZE"})
        t0 = time.monotonic()

        done = subprocess.run(
            [sys.executable, "-m", "bastion.cli", "kill", "--config", str(cfg), "--json"],
            env=env(), capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

        report = json.loads(done.stdout)
        assert done.returncode == 1 and not report["ok"], report
        assert Decimal(report["remaining_positions"]["BTC/USDT"]) == 1
        assert "MARKET_LOT_SIZE" in report["refused"]["BTC/USDT"] and not report["dust"]
        assert time.monotonic() - t0 < 15  # it says so at once, not at the 20 s deadline
        plain = subprocess.run(
            [sys.executable, "-m", "bastion.cli", "kill", "--config", str(cfg)],
            env=env(), capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert plain.returncode == 1 and plain.stdout.startswith("NOT FLAT"), plain.stdout

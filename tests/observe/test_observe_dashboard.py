"""The dashboard in headless Chromium against a bot trading on the emulator
through ccxt: the figures are the journal's, a new fill shows within 2 s, the
halt button halts the bot, without the token nothing shows and nothing moves,
no console errors, and screenshots at phone and desktop size."""

from __future__ import annotations

import os
import shutil
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from observe_support import (
    CANARY_KEY,
    CANARY_SECRET,
    TOKEN,
    admin,
    free_port,
    make_bot,
    step,
    wait_for,
)

from bastion.clock import wall_ms
from bastion.config import parse_config
from bastion.engine.observers import latch_writer
from bastion.observe.journal import read_events
from bastion.observe.live_stats import strategy_stats
from bastion.observe.service import ObserveService
from bastion.observe.trades import round_trips
from bastion.state.baseline import BaselineStore
from bastion.state.store import StateStore

HELD_BEFORE = Decimal("0.25")  # BTC the account holds before the bot's first start
DEPOSIT = Decimal("0.05")  # BTC an operator deposits while it runs: not the bot's

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
SHOTS = Path(os.environ.get("BASTION_SHOTS", "/tmp/bastion-dashboard-shots"))

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")
expect = sync_api.expect
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is missing"),
]


def journal_figures(folder: Path) -> dict[str, object]:
    """The figures computed straight from the journal, by the backtests' code."""
    events = list(read_events(folder))
    fills = [e for e in events if e["kind"] == "fill"]
    from bastion.observe.book import fill_of

    pairs = [(e["strategy"].split("@")[0], fill_of(e)) for e in fills]
    trips = round_trips(pairs)
    pos = sum((f.signed_qty for _, f in pairs), Decimal(0))
    stats = [e for e in events if e["kind"] == "cycle_stats"]
    mark = Decimal(stats[-1]["marks"]["BTC/USDT"])
    # the open trip: fills after the last flat point
    running, start = Decimal(0), 0
    for i, (_, f) in enumerate(pairs):
        running += f.signed_qty
        if running == 0:
            start = i + 1
    open_part = [f for _, f in pairs[start:]]
    cash = sum((-f.signed_qty * f.price for f in open_part), Decimal(0))
    open_fees = sum((f.fee for f in open_part), Decimal(0))
    return {
        "fills": len(fills),
        "realised": sum((t.net_pnl for t in trips), Decimal(0)),
        "unrealised": cash + pos * mark - open_fees if open_part else Decimal(0),
        "fees": sum((f.fee for _, f in pairs), Decimal(0)),
        "position": pos,
        "equity": stats[-1]["equity"],
        "last_fill": fills[-1],
        "rejections": sum(
            1 for e in events if e["kind"] == "risk_decision" and e["verdict"] == "reject"
        ),
    }


def _get(url: str, token: str | None = None, data: bytes | None = None) -> int:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=data, headers=headers), timeout=5
        ) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except urllib.error.URLError:
        return 0  # not listening yet


def test_dashboard_against_a_trading_bot(tmp_path, monkeypatch):
    monkeypatch.setenv("BASTION_DASHBOARD_TOKEN", TOKEN)
    monkeypatch.setenv("BASTION_LIVETEST_API_KEY", CANARY_KEY)
    monkeypatch.setenv("BASTION_LIVETEST_API_SECRET", CANARY_SECRET)
    folder = tmp_path / "bot"
    rig = make_bot(folder, balances={"BTC": HELD_BEFORE})
    port = free_port()
    cfg = parse_config(
        {"name": "dash-test", "observe": {"dashboard": {"enabled": True, "port": port}}}
    )
    service = ObserveService(cfg, folder, clock=wall_ms, latch_writer=latch_writer(folder))
    errors: list[str] = []
    try:
        step(rig, 3)  # long, flat, long
        admin(rig.emu, "/balances", {"BTC": str(rig.emulator_position() + DEPOSIT)})
        step(rig, 2)  # flat (the deposit is unexplained: the baseline absorbs it), long
        leak = f"AuthenticationError: key {CANARY_KEY} secret {CANARY_SECRET}"  # in an error
        rig.session.journal.append(
            "order_unresolved",
            wall_ms(),
            {"client_id": "x-1", "symbol": "BTC/USDT", "last_error": leak, "alert": True},
        )
        rig.session.journal.flush()
        service.start()
        base = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: _get(base + "/metrics") == 200, timeout=15)

        # ---- without the token: nothing shown, nothing moves
        assert _get(base + "/api/state") == 401
        assert _get(base + "/api/stream") == 401
        assert _get(base + "/api/halt", data=b'{"reason":"x"}') == 401
        assert _get(base + "/api/halt", token="wrong", data=b'{"reason":"x"}') == 401
        with StateStore(folder) as store:
            row = store.load_latch()
        assert row is None or row.state == "ACTIVE"

        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            desk = browser.new_page(viewport={"width": 1280, "height": 800})
            desk.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            desk.on("pageerror", lambda exc: errors.append(str(exc)))
            resp = desk.goto(base + "/")
            assert (
                resp is not None and "default-src 'none'" in resp.headers["content-security-policy"]
            )
            assert desk.locator("#main").is_hidden()
            assert desk.locator("#fills tbody tr").count() == 0
            html = desk.content()
            assert "60000" not in html and TOKEN not in html

            # ---- with the token: every figure is the journal's
            desk.fill("#token", TOKEN)
            desk.click("#connect")
            fig = journal_figures(folder)
            expect(desk.locator("#fills tbody tr")).to_have_count(fig["fills"], timeout=10_000)
            desk.click("#windows button[data-window=all]")
            expect(desk.locator("#pnl-realised")).to_have_text(str(fig["realised"]))
            expect(desk.locator("#pnl-unrealised")).to_have_text(str(fig["unrealised"]))
            expect(desk.locator("#pnl-fees")).to_have_text(str(fig["fees"]))
            expect(desk.locator("#equity")).to_have_text(str(fig["equity"]))
            expect(desk.locator("#positions tbody tr td").nth(2)).to_have_text(str(fig["position"]))
            # ---- the account, the baseline (not the bot's) and the bot's share, per symbol
            with BaselineStore(folder) as store:
                share = store.load()["BTC"]
            sample = [e for e in read_events(folder, kinds=["cycle_stats"])][-1]
            held = sample["holdings"]["BTC/USDT"]
            bots = sample["account"].get("BTC/USDT", "0")
            row = desk.locator("#holdings tbody tr").first.locator("td")
            expect(desk.locator("#holdings tbody tr")).to_have_count(1)
            expect(row.nth(0)).to_have_text("BTC/USDT")
            expect(row.nth(1)).to_have_text(held)
            expect(row.nth(4)).to_have_text(bots)
            assert Decimal(row.nth(2).inner_text()) == share.baseline == HELD_BEFORE + DEPOSIT
            assert Decimal(row.nth(3).inner_text()) == share.adopted == 0
            assert (
                Decimal(held)
                == share.baseline + Decimal(bots)
                == HELD_BEFORE + DEPOSIT + Decimal(bots)
            )
            assert Decimal(bots) == fig["position"]  # the reconciled share is the fills' sum
            last = fig["last_fill"]
            first_row = desk.locator("#fills tbody tr").first.locator("td")
            expect(first_row.nth(4)).to_have_text(last["qty"])
            expect(first_row.nth(5)).to_have_text(last["price"])
            expect(first_row.nth(6)).to_have_text(last["fee"])
            expect(desk.locator("#halt-state")).to_have_text("ACTIVE")
            trips = strategy_stats(read_events(folder), interval_ms=1000, since_ts=0)["scripted"]
            stats_row = desk.locator("#stats tbody tr").first.locator("td")
            expect(stats_row.nth(0)).to_have_text("scripted")
            expect(stats_row.nth(1)).to_have_text(str(trips["round_trips"]))
            expect(desk.locator("#killswitch")).to_have_attribute("href", "http://127.0.0.1:8787/")

            # ---- a new fill appears within 2 s of being journaled
            step(rig, 1)
            journaled = time.monotonic()
            expect(desk.locator("#fills tbody tr")).to_have_count(fig["fills"] + 1, timeout=2_000)
            assert time.monotonic() - journaled < 2.0

            # ---- halt from the page halts the bot
            desk.fill("#reason", "checking the dashboard")
            desk.click("#halt-btn")
            expect(desk.locator("#latch-result")).to_have_text("ACTIVE -> HALTED")
            step(rig, 2)  # the bot adopts the latch at its next cycle; new exposure refused
            assert rig.bot.risk.latch.state.value == "HALTED"
            expect(desk.locator("#halt-state")).to_have_text("HALTED", timeout=5_000)
            fig = journal_figures(folder)
            assert fig["rejections"] >= 1
            expect(desk.locator("#rejections tbody tr td").nth(1)).to_have_text(
                str(fig["rejections"])
            )
            SHOTS.mkdir(parents=True, exist_ok=True)
            desk.screenshot(path=str(tmp_path / "desktop.png"), full_page=True)

            phone = browser.new_page(
                viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
            )
            phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            phone.on("pageerror", lambda exc: errors.append(str(exc)))
            phone.goto(base + "/")
            phone.fill("#token", TOKEN)
            phone.click("#connect")
            expect(phone.locator("#halt-state")).to_have_text("HALTED")
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"
            phone.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
            for page in (desk, phone):
                text = page.content()
                assert CANARY_KEY not in text and CANARY_SECRET not in text and TOKEN not in text
            browser.close()
        for name in ("desktop.png", "phone.png"):
            shutil.copy(tmp_path / name, SHOTS / name)
        metrics = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
        assert CANARY_KEY not in metrics and CANARY_SECRET not in metrics
        req = urllib.request.Request(
            base + "/api/state", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        state = urllib.request.urlopen(req, timeout=5).read().decode()
        assert "AuthenticationError: key *** secret ***" in state  # shown, masked
        assert CANARY_KEY not in state and CANARY_SECRET not in state
        assert errors == []
    finally:
        service.stop()
        rig.close()

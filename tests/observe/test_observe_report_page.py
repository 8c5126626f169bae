"""The report a person reads, opened in headless Chromium: the three-month 1m
BTC file with the defaults (the run halts at the drawdown cap), under 1.5 MB,
no console errors, charts drawn, and the key figures on the page equal to
summary.json (parsed back from the page's text, not from the formatter)."""

from __future__ import annotations

import json
import os
import re

import pytest

from bastion.config import BotConfig
from bastion.data.loaders import load_bars
from bastion.engine.backtest import run_backtest
from bastion.engine.outputs import write_outputs
from bastion.strategy import build_strategy

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
THREE_MONTHS = "binance_BTC_USDT_1m_2025-05-20_2025-08-18.parquet"

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.realdata,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is missing"),
]

PERCENT = ("total_return", "buy_and_hold_return", "max_drawdown", "win_rate", "exposure", "cagr")
MONEY = ("final_equity", "fees")
RATIO = ("sharpe", "sortino", "profit_factor")
COUNT = ("round_trips", "orders", "fills", "approved", "not_approved", "resized_total")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from bastion.data.paths import shared_data_dir

    root = shared_data_dir()
    if root is None:
        pytest.skip("real market data is not on this machine")
    series = load_bars(root / "ohlcv" / THREE_MONTHS)
    out = tmp_path_factory.mktemp("report")
    strat = build_strategy("sma_cross", [series.symbol], {"qty": "0.1"})
    result = run_backtest([series], [strat], BotConfig(), journal_path=out / "journal.sqlite")
    write_outputs(result, out, series)
    return out, json.loads((out / "summary.json").read_text())


def number(text: str) -> float:
    return float(text.replace(",", "").replace("%", "").replace("−", "-"))


def test_the_report_is_small(run):
    out, _ = run
    assert (out / "report.html").stat().st_size < 1_500_000


def test_the_page_in_chromium(run):
    out, summary = run
    assert summary["halt_state"] == "HALTED"  # the defaults' drawdown cap: a halted run
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        problems: list[str] = []
        page.on(
            "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on(
            "request",
            lambda r: None if r.url.startswith(("file:", "data:")) else problems.append(r.url),
        )
        page.goto((out / "report.html").as_uri())
        sync_api.expect(page.locator(".uplot")).to_have_count(3, timeout=15_000)

        cards = {
            el.get_attribute("data-key"): el.locator(".value").inner_text()
            for el in page.locator("#summary-panel .card").all()
        }
        banner = page.locator("#halted-banner").inner_text()
        basis = page.locator("#ratio-basis").inner_text()
        trades_rows = page.locator("#trades tbody tr").count()
        pager = page.locator("#trades-pager").inner_text()
        halts = page.locator("#halts tbody tr").all_inner_texts()
        rejected = page.locator("#risk-rejected tbody tr").all_inner_texts()
        months = page.locator("#monthly-returns tbody tr").all_inner_texts()
        per_symbol = page.locator("#by-symbol tbody tr").all_inner_texts()
        page.locator("#trades-pager button", has_text="first").click()
        first_entry = page.locator("#trades tbody tr").first.locator("td").nth(3).inner_text()
        browser.close()

    assert problems == []
    for key in MONEY:
        assert number(cards[key]) == pytest.approx(summary[key], abs=0.005), key
    for key in PERCENT:
        assert number(cards[key]) == pytest.approx(100 * summary[key], abs=0.005), key
    for key in RATIO:
        assert number(cards[key]) == pytest.approx(summary[key], abs=0.005), key
    for key in COUNT:
        assert int(number(cards[key])) == summary[key], key
    assert cards["halt_state"] == "HALTED"
    assert "MAX_DRAWDOWN" in banner and "ended HALTED" in banner
    assert "daily returns (91 UTC days" in basis
    assert summary["not_approved"] == sum(summary["rejected"].values())
    assert len(halts) == len(summary["halts"]) == 1 and "MAX_DRAWDOWN" in halts[0]
    assert [r.split("\t")[0] for r in rejected] == sorted(summary["rejected"])
    assert len(months) == 1 and months[0].startswith("2025")
    assert per_symbol[0].startswith("BTC/USDT")
    assert trades_rows == (summary["round_trips"] - 1) % 100 + 1  # opens on the newest page
    assert f"{summary['round_trips']:,} round trips" in pager
    assert re.fullmatch(r"2025-05-2\d \d\d:\d\d", first_entry)

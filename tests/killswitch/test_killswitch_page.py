"""The phone page in headless Chromium at a phone's size: it shows the exposure,
the kill button asks for confirmation, and with the token it flattens."""

from __future__ import annotations

import os
import re

import pytest
from killswitch_support import (
    THREE,
    TOKEN,
    emulator,
    exchange_state,
    free_port,
    place_resting,
    start_sentinel,
    stop,
    write_config,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")
expect = sync_api.expect
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason=f"{CHROMIUM} is missing: `make test` installs Debian's chromium (needs root)",
    ),
]


def test_phone_page_shows_exposure_and_the_button_flattens_with_the_token(tmp_path):
    with emulator() as (emu, _):
        place_resting(emu, THREE)
        port = free_port()
        cfg = write_config(tmp_path, emu, port=port)
        sentinel = start_sentinel(cfg, port, tmp_path / "sentinel.log")
        try:
            with sync_api.sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
                phone = browser.new_context(
                    viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                    has_touch=True,
                )  # fmt: skip
                page = phone.new_page()
                response = page.goto(f"http://127.0.0.1:{port}/")
                assert response is not None
                assert "default-src 'none'" in response.headers["content-security-policy"]
                # the status shows positions: it needs the token first
                expect(page.locator("#state")).to_contain_text("enter the kill token")
                expect(page.locator("#positions tr")).to_have_count(0)
                page.fill("#token", TOKEN)
                page.locator("#token").dispatch_event("change")
                expect(page.locator("#positions tr")).to_have_count(3, timeout=15_000)
                # which bot, exchange and mode the page guards
                expect(page.locator("#guard")).to_have_text(
                    "bot kstest on binance · LIVE · kill acts on binance account"
                )
                html = page.content()
                assert TOKEN not in html
                assert 'name="viewport"' in html
                kill = page.locator("#kill")
                box = kill.bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] >= 60  # thumb-sized
                expect(page.locator("#orders")).to_have_text("6")

                # without confirming, nothing happens
                kill.click()
                assert page.locator("#ask").is_visible()
                page.locator("#cancel").click()
                assert not page.locator("#ask").is_visible()
                assert len(exchange_state(emu, THREE)[0]) == 3

                # a wrong token is refused, and says so
                page.fill("#token", "wrong")
                kill.click()
                page.locator("#confirm").click()
                expect(page.locator("#result")).to_have_text(re.compile("^REFUSED"))
                assert len(exchange_state(emu, THREE)[0]) == 3

                page.fill("#token", TOKEN)
                kill.click()
                page.locator("#confirm").click()
                expect(page.locator("#result")).to_have_text(re.compile("^FLAT"), timeout=30_000)
                expect(page.locator("#positions")).to_contain_text("flat", timeout=15_000)
                page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)

                assert "orders cancelled" in page.locator("#result").inner_text()
                expect(page.locator("#orders")).to_have_text("0")
                expect(page.locator("#state")).to_contain_text("HALTED")
                assert exchange_state(emu, THREE) == ({}, 0)
                assert (tmp_path / "phone.png").stat().st_size > 10_000
                browser.close()
        finally:
            stop(sentinel)

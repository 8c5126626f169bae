"""Signed request URLs never reach the journal: ccxt quotes the request in its
error messages (``GET .../account?timestamp=...&signature=...``), and a signed
query string replayed within its window is a valid request. Through the real
ccxt client and the emulator, a failing signed call is journaled redacted."""

from __future__ import annotations

import sqlite3

import pytest
from live_support import admin, make_rig

from bastion.emulator import TEST_API_KEY
from bastion.engine.live_cycle import cycle_failed
from bastion.venues.ccxt.errors import redact
from bastion.venues.errors import VenueError


def test_a_failed_signed_call_is_journaled_without_its_query_string(tmp_path) -> None:
    rig = make_rig(tmp_path / "bot", None, refresh_ms=0)
    try:
        admin(rig.emu, "/faults", {"kind": "http_error", "status": 503, "path": "/api/v3/account"})
        rig.bot.reconciler.invalidate()
        with pytest.raises(VenueError) as info:
            rig.step()
        cycle_failed(rig.session, info.value, 1)  # what the live loop journals
        rig.session.journal.flush()
    finally:
        rig.close()

    assert "/api/v3/account" in str(info.value)  # the message still says what failed
    db = sqlite3.connect(tmp_path / "bot" / "journal.sqlite")
    text = " ".join(str(row) for row in db.execute("SELECT * FROM events"))
    db.close()
    assert "cycle_failed" in text
    for secret in ("signature=", "timestamp=", TEST_API_KEY):
        assert secret not in text and secret not in str(info.value)


@pytest.mark.parametrize(
    ("raw", "kept", "gone"),
    [
        ("binance GET https://api.binance.com/api/v3/account?timestamp=1&signature=ab12cd34ef",
         "https://api.binance.com/api/v3/account", "ab12cd34ef"),
        ("POST http://127.0.0.1:9/api/v3/order?symbol=BTCUSDT&signature=0123456789abcdef 500",
         "500", "0123456789abcdef"),
        ('header X-MBX-APIKEY: K3yK3yK3yK3y body {"apiKey": "S3cr3tS3cr3t"}', "header",
         "K3yK3yK3yK3y"),
        ("listenKey=pqrstuvwxyz0123 expired", "expired", "pqrstuvwxyz0123"),
    ],
)  # fmt: skip
def test_redact_keeps_the_story_and_drops_the_credentials(raw, kept, gone) -> None:
    out = redact(raw)
    assert kept in out and gone not in out

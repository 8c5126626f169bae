"""A kill in bot scope closes the bot's share and leaves the baseline (what the
account held that is not the bot's). Through the real ccxt client, in-process."""

from __future__ import annotations

from decimal import Decimal

import pytest
from killswitch_support import KEY_ENV, THREE, admin, emulator, env, exchange_state

from bastion.config import parse_config
from bastion.killswitch.kill import KillSwitch
from bastion.state.baseline import AssetShare, BaselineStore


@pytest.fixture(autouse=True)
def _keys(monkeypatch):
    for name in (f"{KEY_ENV}_API_KEY", f"{KEY_ENV}_API_SECRET"):
        monkeypatch.setenv(name, env()[name])


def _config(emu, tmp_path, scope: str = "symbols"):
    return parse_config(
        {
            "data_dir": str(tmp_path),
            "exchange": {"mode": "live", "base_url": emu.url, "ws_url": emu.ws_url,
                         "key_env": KEY_ENV, "call_timeout_s": 3, "rate_limit": False},
            "strategies": [{"name": "sma_cross", "symbols": ["BTC/USDT", "ETH/USDT"]}],
            "killswitch": {"scope": scope, "deadline_s": 10},
        }
    )  # fmt: skip


def _baseline(folder, **assets: str) -> None:
    with BaselineStore(folder) as store:
        store.save(
            {a: AssetShare(baseline=Decimal(q)) for a, q in assets.items()},
            ts=1,
            reason="first start on this account",
            by="bot",
        )


def test_a_bot_scope_kill_leaves_the_baseline(tmp_path):
    with emulator() as (emu, _):
        # The account held 1 BTC and 10 ETH before the bot; the bot bought 0.05 BTC.
        _baseline(tmp_path, BTC="1", ETH="10")
        admin(emu, "/balances", {"BTC": "1.05"})
        ks = KillSwitch(_config(emu, tmp_path), tmp_path)
        try:
            report = ks.kill(reason="KILL: bot only", by="test")
            again = ks.kill(reason="KILL: twice", by="test")
        finally:
            ks.close()
        held, _ = exchange_state(emu, THREE)
    assert report["ok"], report
    assert held["BTC"] == Decimal(1) and held["ETH"] == Decimal(10)  # found: sold to 0
    assert [c["side"] for c in report["closes"]] == ["sell"]
    assert report["baseline"] == {"BTC": "1", "ETH": "10"}
    assert again["ok"] and again["closes"] == []  # at the baseline: nothing more to sell


def test_an_unreadable_baseline_leaves_positions_and_is_not_flat(tmp_path):
    with emulator() as (emu, _):
        (tmp_path / "latch.sqlite").write_bytes(b"not a database at all, 100 bytes" * 4)
        ks = KillSwitch(_config(emu, tmp_path), tmp_path)
        try:
            report = ks.kill(reason="KILL: store broken", by="test")
        finally:
            ks.close()
        held, _ = exchange_state(emu, THREE)
    assert not report["ok"]
    assert any("baseline unreadable" in e for e in report["errors"])
    assert held["BTC"] == Decimal(1)


def test_sentinel_status_shows_the_bots_share_against_the_account(tmp_path):
    from bastion.killswitch.app import bot_share

    with emulator() as (emu, _):
        _baseline(tmp_path, BTC="1")
        admin(emu, "/balances", {"BTC": "1.25"})
        ks = KillSwitch(_config(emu, tmp_path), tmp_path)
        try:
            ks.venues.connect()
            acct, _ = ks.venues.read()
            share = bot_share(ks, acct)
        finally:
            ks.close()
    assert share["BTC/USDT"] == {"holding": "1.25", "baseline": "1", "bot": "0.25"}
    assert Decimal(share["ETH/USDT"]["bot"]) == 10  # no baseline recorded for ETH

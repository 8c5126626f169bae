"""A kill in bot scope closes the bot's share and leaves the baseline (what the
account held that is not the bot's). Through the real ccxt client, in-process."""

from __future__ import annotations

from decimal import Decimal

import pytest
from killswitch_support import KEY_ENV, THREE, admin, emulator, env, exchange_state

from bastion.config import parse_config
from bastion.killswitch.kill import KillSwitch
from bastion.state.baseline import AssetShare, BaselineStore
from bastion.state.killorders import KillOrderReader


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


def _kill_once(emu, folder, reason: str) -> dict:
    """One bot-scope kill of the bot in ``folder``; its report."""
    ks = KillSwitch(_config(emu, folder), folder)
    try:
        return ks.kill(reason=reason, by="test")
    finally:
        ks.close()


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
    # The closes sold the bot's share: written down for the bot to book as its own.
    written = KillOrderReader(tmp_path).read_new()
    assert [(o.client_id, o.side) for o in written] == [
        (c["client_id"], "sell") for c in report["closes"]
    ]


def test_an_unreadable_baseline_leaves_positions_and_is_not_flat(tmp_path):
    with emulator() as (emu, _):
        (tmp_path / "latch.sqlite").write_bytes(b"not a database at all, 100 bytes" * 4)
        report = _kill_once(emu, tmp_path, "KILL: store broken")
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


def _bot_bought(folder, symbol: str, qty: str) -> None:
    """The bot's own records: one filled buy in its order store."""
    from bastion.model import Fill, Liquidity, OrderRequest, OrderStatus, OrderType, Side
    from bastion.model.orders import StrategyRef
    from bastion.state.orders import OrderStore

    cid = "bnabcdefgh1-1-0-0"
    with_store = OrderStore(folder / "state.sqlite")
    try:
        req = OrderRequest(
            client_id=cid, strategy=StrategyRef(id="sma_cross", version="1"), symbol=symbol,
            side=Side.BUY, qty=Decimal(qty), type=OrderType.MARKET,
        )  # fmt: skip
        with_store.save_order(req, OrderStatus.FILLED, 1)
        with_store.update_order(cid, status=OrderStatus.FILLED, filled=Decimal(qty),
                                venue_id="1", reason="", ts=1)  # fmt: skip
        with_store.record_fill(
            Fill(trade_id="T1", client_id=cid, venue_order_id="1", symbol=symbol, side=Side.BUY,
                 qty=Decimal(qty), price=Decimal(60000), fee=Decimal(0), fee_asset="USDT",
                 liquidity=Liquidity.TAKER, ts=1)
        )  # fmt: skip
    finally:
        with_store.close()


def test_a_kill_right_after_a_deposit_sells_only_what_the_bots_records_own(tmp_path):
    """Found by the campaign: a deposit the bot had not reconciled yet looked,
    to a kill that subtracts only the recorded baseline, like the bot's position,
    and was sold. The kill also caps each close by the bot's own records."""
    with emulator() as (emu, _):
        _baseline(tmp_path, BTC="1", ETH="10", SOL="100")
        _bot_bought(tmp_path, "BTC/USDT", "0.05")
        admin(emu, "/balances", {"BTC": "1.55"})  # the bot's 0.05 and a deposit of 0.5
        report = _kill_once(emu, tmp_path, "KILL: after a deposit")
        held, _ = exchange_state(emu, THREE)
    assert report["ok"], report
    assert held["BTC"] == Decimal("1.5"), held  # found: sold to 1 (the deposit went too)
    assert Decimal(report["unexplained"]["BTC/USDT"]) == Decimal("0.5")


def test_a_kill_before_the_bots_first_cycle_sells_nothing(tmp_path):
    """A bot that opened its folder and died before its first reconciliation
    recorded no baseline and owns nothing: the kill cancels, and sells nothing
    of an account that was never the bot's."""
    with emulator() as (emu, _):
        from bastion.state.orders import OrderStore

        OrderStore(tmp_path / "state.sqlite").close()
        report = _kill_once(emu, tmp_path, "KILL: fresh folder")
        held, _ = exchange_state(emu, THREE)
    assert report["ok"] and report["closes"] == [], report
    assert held == {"BTC": Decimal(1), "ETH": Decimal(10), "SOL": Decimal(100)}, held

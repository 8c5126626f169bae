"""Scope: ``symbols`` touches only the configured symbols; ``account`` finds
every asset the account holds. Through the real ccxt client, in-process."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from killswitch_support import KEY_ENV, THREE, emulator, env, exchange_state, place_resting

from bastion.config import parse_config
from bastion.killswitch.kill import KillSwitch
from bastion.state.killorders import KILL_ORDERS_FILE


@pytest.fixture(autouse=True)
def _keys(monkeypatch):
    for name in (f"{KEY_ENV}_API_KEY", f"{KEY_ENV}_API_SECRET"):
        monkeypatch.setenv(name, env()[name])


def _config(emu, tmp_path, scope: str):
    return parse_config(
        {
            "data_dir": str(tmp_path),
            "exchange": {"mode": "live", "base_url": emu.url, "ws_url": emu.ws_url,
                         "key_env": KEY_ENV, "call_timeout_s": 3, "rate_limit": False},
            "strategies": [{"name": "sma_cross", "symbols": ["BTC/USDT"]}],
            "killswitch": {"scope": scope, "deadline_s": 10},
        }
    )  # fmt: skip


def test_symbols_scope_leaves_other_holdings_alone(tmp_path):
    with emulator() as (emu, _):
        place_resting(emu, THREE)
        ks = KillSwitch(_config(emu, tmp_path, "symbols"), tmp_path)
        try:
            report = ks.kill(reason="KILL: btc only", by="test")
        finally:
            ks.close()
        held, n_open = exchange_state(emu, THREE)
    assert report["ok"] and report["symbols"] == ["BTC/USDT"]
    assert "BTC" not in held and held["ETH"] == Decimal(10) and held["SOL"] == Decimal(100)
    assert n_open == 4  # ETH and SOL orders still rest


def test_account_scope_flattens_every_asset_held(tmp_path):
    with emulator() as (emu, _):
        place_resting(emu, THREE)
        ks = KillSwitch(_config(emu, tmp_path, "account"), tmp_path)
        try:
            report = ks.kill(reason="KILL: everything", by="test")
        finally:
            ks.close()
        state = exchange_state(emu, THREE)
    assert report["ok"], report
    assert set(report["symbols"]) == set(THREE)
    assert state == ({}, 0)
    assert os.path.exists(tmp_path / "KILLED")
    # Account scope sells what is not the bot's too: nothing for the bot to book.
    assert not (tmp_path / KILL_ORDERS_FILE).exists()

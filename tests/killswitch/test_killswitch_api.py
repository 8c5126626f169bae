"""The sentinel's HTTP surface: refusals move nothing and are audited; status
shows exposure; a second kill is harmless; the sentinel loads none of the
bot's layers."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from killswitch_support import (
    THREE,
    TOKEN,
    admin,
    emulator,
    env,
    exchange_state,
    free_port,
    http,
    place_resting,
    start_sentinel,
    stop,
    write_config,
)

from bastion.killswitch.audit import AUDIT_FILE

FORBIDDEN = (
    "bastion.strategy",
    "bastion.risk",
    "bastion.engine",
    "bastion.data",
    "bastion.observe",
    "bastion.execution",
    "bastion.emulator",
    "bastion.cli",
)


@pytest.fixture
def sentinel(tmp_path):
    with emulator() as (emu, _):
        place_resting(emu, THREE)
        port = free_port()
        cfg = write_config(tmp_path, emu, port=port)
        proc = start_sentinel(cfg, port, tmp_path / "sentinel.log")
        try:
            yield emu, port, tmp_path / "data"
        finally:
            stop(proc)


def _audit(data):
    return [json.loads(line) for line in (data / AUDIT_FILE).read_text().splitlines()]


def test_no_token_and_wrong_token_get_401_move_nothing_and_are_audited(sentinel):
    emu, port, data = sentinel
    before = exchange_state(emu, THREE)
    orders_before = len(admin(emu, "/orders")["orders"])

    no_token = http(port, "POST", "/kill")
    t0 = time.monotonic()
    wrong = http(port, "POST", "/kill", "not-the-token")
    slowed = time.monotonic() - t0
    again = http(port, "POST", "/kill", None, None)

    assert no_token[0] == 401 and wrong[0] == 401 and again[0] == 401
    assert slowed >= 0.45  # the second failure in a row waits 0.5 s
    assert exchange_state(emu, THREE) == before
    assert len(admin(emu, "/orders")["orders"]) == orders_before
    assert not (data / "KILLED").exists()
    attempts = [a for a in _audit(data) if a["event"] == "kill_attempt"]
    assert [a["outcome"] for a in attempts] == ["no_token", "bad_token", "no_token"]
    assert all(a["remote"] == "127.0.0.1" and a["ts"] > 0 for a in attempts)
    assert TOKEN not in (data / AUDIT_FILE).read_text()
    assert "not-the-token" not in (data / AUDIT_FILE).read_text()
    status = http(port, "GET", "/status", TOKEN)[1]
    assert status["auth_failures"] == 3


def test_status_then_kill_twice_is_safe_and_audited(sentinel):
    emu, port, data = sentinel

    code, status = http(port, "GET", "/status", TOKEN)
    assert code == 200
    assert set(status["positions"]) == set(THREE)
    assert len(status["open_orders"]) == 6
    assert status["halt"]["state"] == "ACTIVE" and not status["killed_flag"]

    first = http(port, "POST", "/kill", TOKEN, {"reason": "fat finger"})[1]
    sent = len(admin(emu, "/orders")["orders"])
    second = http(port, "POST", "/kill", TOKEN)[1]

    assert first["ok"] and second["ok"]
    assert second["closes"] == [] and second["cancelled"] == []
    assert len(admin(emu, "/orders")["orders"]) == sent  # the second press sent nothing
    assert exchange_state(emu, THREE) == ({}, 0)
    after = http(port, "GET", "/status", TOKEN)[1]
    assert after["positions"] == {} and after["open_orders"] == []
    assert after["halt"]["state"] == "HALTED" and after["killed_flag"]
    assert after["last_kill"]["reason"] == "KILL: kill switch"
    closes = [c for c in first["closes"] if c.get("client_id", "").startswith("ks")]
    assert closes and all(c["client_id"].startswith("ks") for c in first["closes"])
    events = [a["event"] for a in _audit(data)]
    assert events.count("kill_attempt") == 2 and events.count("kill_done") == 2


def test_sentinel_process_loads_only_config_model_venues_and_the_state_store(tmp_path):
    with emulator() as (emu, _):
        cfg = write_config(tmp_path, emu)
        probe = f"""
import sys, threading
from pathlib import Path
from bastion.config import load_config
from bastion.killswitch.sentinel import build_sentinel
from bastion.killswitch.app import make_app
cfg = load_config({str(cfg)!r})
s = build_sentinel(cfg, Path({str(tmp_path / "data")!r}))
make_app(s)
s.killswitch.venues.connect()
s.killswitch.kill(reason="probe", by="test")
print("\\n".join(sorted(m for m in sys.modules if m.startswith("bastion"))))
"""
        out = subprocess.run(
            [sys.executable, "-c", probe],
            env=env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = out.stdout.split()
    assert "bastion.killswitch.app" in loaded and "bastion.venues.ccxt.venue" in loaded
    assert [m for m in loaded if m.startswith(FORBIDDEN)] == []


def test_sentinel_refuses_to_start_without_a_token(tmp_path):
    with emulator() as (emu, _):
        cfg = write_config(tmp_path, emu, port=free_port())
        bare = {k: v for k, v in env().items() if k != "BASTION_KILL_TOKEN"}
        out = subprocess.run(
            [sys.executable, "-m", "bastion.killswitch", "sentinel", "--config", str(cfg)],
            env=bare,
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 2
    assert "BASTION_KILL_TOKEN" in out.stderr

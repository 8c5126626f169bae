"""The kill switch under bad input: a good token kills whatever the body;
``/status`` (positions, orders) needs the token; refused keys end a kill at
once with one line naming the variable; a folder that is not a bot's is
refused, not halted in vain."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from killswitch_support import (
    KEY_ENV,
    THREE,
    TOKEN,
    emulator,
    env,
    exchange_state,
    http,
    place_resting,
    write_config,
)
from test_killswitch_api import sentinel  # noqa: F401  (the fixture)

from bastion.killswitch.audit import AUDIT_FILE

WRONG_KEY = "wrong-key-0123456789abcdef"


def _raw_kill(port: int, body: bytes) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/kill", data=body, method="POST")
    req.add_header("Authorization", f"Bearer {TOKEN}")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
def test_a_good_token_kills_whatever_the_body(sentinel) -> None:  # noqa: F811
    emu, port, data = sentinel
    deep = b"[" * 200_000 + b"]" * 200_000  # past the JSON parser's recursion limit

    code = _raw_kill(port, deep)

    assert code == 200
    assert exchange_state(emu, THREE) == ({}, 0)
    assert (data / "KILLED").exists()
    for body in (b"\xff\xfe not utf-8", b"{not json", b'{"reason": {"a": [1, 2]}}', b"x" * 100_000):
        assert _raw_kill(port, body) == 200


def test_status_shows_nothing_without_the_token(sentinel) -> None:  # noqa: F811
    _emu, port, _data = sentinel

    no_token = http(port, "GET", "/status")
    wrong = http(port, "GET", "/status", "not-the-token")
    good = http(port, "GET", "/status", TOKEN)

    assert no_token[0] == 401 and wrong[0] == 401
    assert "positions" not in str(no_token[1]) and "positions" not in str(wrong[1])
    assert good[0] == 200 and set(good[1]["positions"]) == set(THREE)


def _kill(cfg, env_vars, *extra: str) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bastion.cli", "kill", "--config", str(cfg), *extra],
        env=env_vars,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done, time.monotonic() - t0


def test_kill_with_refused_keys_fails_at_once_naming_the_variable(tmp_path) -> None:
    with emulator() as (emu, _):
        place_resting(emu, THREE)
        cfg = write_config(tmp_path, emu, killswitch={"deadline_s": 20.0})
        bad = {**env(), f"{KEY_ENV}_API_KEY": WRONG_KEY}

        done, _ = _kill(cfg, bad)

        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2, done.stdout + done.stderr
        assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr
        assert f"{KEY_ENV}_API_KEY" in lines[0] and WRONG_KEY not in done.stderr + done.stdout
        assert "Traceback" not in done.stderr
        audit = [json.loads(x) for x in (tmp_path / "data" / AUDIT_FILE).read_text().splitlines()]
        (done_event,) = [a for a in audit if a["event"] == "kill_done"]
        assert done_event["elapsed_s"] < 2.0  # at once, not after the 20 s deadline
        assert len(exchange_state(emu, THREE)[0]) == 3  # nothing was sold
        assert (tmp_path / "data" / "KILLED").exists()  # but the bot is halted


def test_kill_refuses_a_folder_that_is_not_a_bots(tmp_path) -> None:
    with emulator() as (emu, _):
        cfg = write_config(tmp_path, emu)
        stranger = tmp_path / "somewhere"
        stranger.mkdir()

        done, _ = _kill(cfg, env(), "--data-dir", str(stranger))

        assert done.returncode == 2
        assert "not a bot's data folder" in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        assert list(stranger.iterdir()) == []  # no flag, no latch, no audit

"""The dead man's switch: the bot stops cycling, the sentinel pages within the
timeout (webhook and command); with ``on_heartbeat_loss = "flatten"`` it kills."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from killswitch_support import (
    THREE,
    emulator,
    exchange_state,
    free_port,
    heartbeat,
    place_resting,
    start_bot,
    start_sentinel,
    stop,
    wait_for,
    write_config,
)

from bastion.killswitch.audit import AUDIT_FILE

pytestmark = pytest.mark.slow
TIMEOUT_S = 3.0


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def _bot_dies(tmp_path, on_loss: str, sig: signal.Signals) -> Iterator[tuple]:
    """A bot and its sentinel; the bot is stopped with ``sig``; yields once paged."""
    hook = type("Hook", (_Hook,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    paged = tmp_path / "paged.txt"
    with emulator() as (emu, _):
        place_resting(emu, THREE)
        port = free_port()
        cfg = write_config(
            tmp_path,
            emu,
            port=port,
            killswitch={
                "heartbeat_timeout_s": TIMEOUT_S,
                "on_heartbeat_loss": on_loss,
                "webhook": f"http://127.0.0.1:{server.server_port}/page",
                "command": f'printf "%s\\n" "$BASTION_ALERT" >> {paged}',
            },
        )
        data = tmp_path / "data"
        bot = start_bot(cfg, tmp_path / "bot.log")
        sentinel = None
        try:
            wait_for(lambda: heartbeat(data), 30, "the bot's first cycle", tmp_path / "bot.log")
            sentinel = start_sentinel(cfg, port, tmp_path / "sentinel.log")
            time.sleep(1.0)
            before = exchange_state(emu, THREE)
            bot.send_signal(sig)
            last = heartbeat(data) or 0

            wait_for(lambda: hook.received and paged.exists(), TIMEOUT_S + 6, "the page")

            paged_after = time.time() - last / 1000
            alert = hook.received[0]
            assert alert["alert"] == "bastion heartbeat lost" and alert["action"] == on_loss
            assert json.loads(paged.read_text().splitlines()[0]) == alert
            assert paged_after < TIMEOUT_S + 3  # N seconds, plus the check period and a cycle
            yield emu, data, before
        finally:
            stop(bot)
            if sentinel is not None:
                stop(sentinel)
            server.shutdown()


def _audit_events(data) -> list[str]:
    return [json.loads(x)["event"] for x in (data / AUDIT_FILE).read_text().splitlines()]


def test_heartbeat_loss_pages_within_the_timeout_and_moves_nothing(tmp_path):
    with _bot_dies(tmp_path, "alert", signal.SIGKILL) as (emu, data, before):
        time.sleep(0.5)
        assert exchange_state(emu, THREE) == before
        assert not (data / "KILLED").exists()
        assert "heartbeat_lost" in _audit_events(data)


def test_heartbeat_loss_with_flatten_kills_a_hung_bot(tmp_path):
    with _bot_dies(tmp_path, "flatten", signal.SIGSTOP) as (emu, data, before):
        assert len(before[0]) == 3
        wait_for(lambda: exchange_state(emu, THREE) == ({}, 0), 15, "flat")
        wait_for(lambda: "kill_done" in _audit_events(data), 15, "the kill's audit line")
        assert (data / "KILLED").exists()
        assert _audit_events(data).count("heartbeat_lost") == 1

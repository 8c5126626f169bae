"""Real parts for the observers' tests: a bot trading on the exchange emulator
through ccxt (the live suite's rig), a local HTTP receiver for apprise's
``json://`` notifications and a local SMTP server (aiosmtpd) for ``mailto://``
and the digest. Nothing is mocked."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "live"))

from live_support import SYMBOL, LiveRig, admin, make_rig, wait_for

from bastion.engine.health import journal_cycle_stats
from bastion.model import TargetPosition

CANARY_KEY = "canaryKEY-7f3a9c1d2e"
CANARY_SECRET = "canarySECRET-b8e4f0a6c2"
TOKEN = "dash-token-5d1e9b7a"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------ receivers
class Receiver:
    """Collects what apprise posts to ``json://127.0.0.1:PORT/``."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.raw.append(data)
                try:
                    outer.bodies.append(json.loads(data))
                except ValueError:
                    outer.bodies.append({"raw": data.decode(errors="replace")})
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/"

    def titles(self) -> list[str]:
        return [str(b.get("title", "")) for b in self.bodies]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Mailbox:
    """A local SMTP server (aiosmtpd) that keeps every message it receives."""

    messages: list[EmailMessage] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    port: int = 0
    controller: Any = None

    def start(self) -> Mailbox:
        from aiosmtpd.controller import Controller

        box = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                box.raw.append(envelope.content)
                box.messages.append(
                    email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[arg-type]
                )
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def mailto(self, to: str = "operator@example.test") -> str:
        return f"mailto://127.0.0.1:{self.port}?from=bot@example.test&to={to}&mode=insecure"

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()


# ------------------------------------------------------------ the bot
def flip_script(qty: str = "0.01") -> Callable[[int, Any, Any], list[Any]]:
    """Long, flat, long...: one market order a cycle, so every cycle fills."""

    def script(i: int, view: Any, account: Any) -> list[Any]:
        return [TargetPosition(symbol=SYMBOL, qty=Decimal(qty) if i % 2 == 0 else Decimal(0))]

    return script


def make_bot(folder: Path, script: Any = None, **kw: Any) -> LiveRig:
    return make_rig(folder, script or flip_script(), **kw)


def step(rig: LiveRig, n: int = 1) -> None:
    """A cycle as run_bot runs it: the decision, then the health sample."""
    for _ in range(n):
        t0 = time.perf_counter()
        rig.step(1)
        took = (time.perf_counter() - t0) * 1000
        journal_cycle_stats(
            rig.session, now=int(time.time() * 1000), cycle_ms=took, tick_to_order_ms=took,
            feeds={SYMBOL: int(time.time() * 1000) - 200}, rebuilds=0,
        )  # fmt: skip


__all__ = [
    "SYMBOL",
    "LiveRig",
    "Mailbox",
    "Receiver",
    "admin",
    "free_port",
    "make_bot",
    "step",
    "wait_for",
]

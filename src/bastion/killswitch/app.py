"""The sentinel's HTTP API: ``POST /kill``, ``GET /status`` and the phone page.

Authentication is one bearer token from the environment, compared in constant
time, on ``/kill`` and on ``/status`` (which shows positions and orders).
A good token kills whatever the body says: the body only carries an optional
reason, and a body that cannot be read (not JSON, too deep, too big) is no
reason to refuse the button. Every attempt, good or bad, is appended to the audit log with the time,
the remote address and the outcome (never the token). Each failure in a row
doubles the wait before the 401 goes out (capped at 5 s), so guessing is slow,
while the right token is never delayed: the operator who needs the button
must not be locked out by someone else's guessing.

Exchange calls run on worker threads; the event loop only waits, so
``/status`` answers while a kill is in progress.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from bastion.killswitch.audit import AuditLog
from bastion.killswitch.halt import read_halt
from bastion.killswitch.kill import KillSwitch
from bastion.killswitch.page import CSP, PAGE
from bastion.killswitch.watchdog import Watchdog
from bastion.model import AccountSnapshot
from bastion.state.killflag import read_flag

STATUS_TIMEOUT_S = 5.0
MAX_REASON = 200


class Sentinel:
    """What the routes act on: the kill switch, its audit log, the watchdog."""

    def __init__(
        self, killswitch: KillSwitch, audit: AuditLog, token: str, watchdog: Watchdog | None
    ) -> None:
        if not token:
            raise ValueError("an empty kill token would let anyone kill")
        self.killswitch = killswitch
        self.audit = audit
        self._token = token.encode()
        self.watchdog = watchdog
        self.failures = 0  # in a row; reset by a good token
        self.failures_total = 0

    def authorized(self, header: str | None) -> bool:
        scheme, _, offered = (header or "").partition(" ")
        ok = hmac.compare_digest(offered.strip().encode(), self._token)
        return ok and scheme.lower() == "bearer"

    def status(self) -> dict[str, Any]:
        """Exposure from the exchange, the latch, the heartbeat, the last kill."""
        ks = self.killswitch
        out: dict[str, Any] = {
            **ks.guarding(),  # which bot, exchange and mode (paper/live) this switch guards
            "halt": read_halt(ks.data_dir),
            "killed_flag": read_flag(ks.data_dir) is not None,
            "heartbeat": self.watchdog.status() if self.watchdog is not None else None,
            "last_kill": ks.last,
            "auth_failures": self.failures_total,
        }
        errors = ks.venues.connect()
        acct, unread = ks.venues.read()
        if acct is None:
            out |= {"positions": {}, "open_orders": [], "exchange_error": errors or unread}
            return out
        out["positions"] = {s: str(p.qty) for s, p in acct.positions.items() if p.qty}
        out["share"] = bot_share(ks, acct)
        out["open_orders"] = [
            {
                "symbol": o.symbol,
                "client_id": o.client_id,
                "side": o.side.value,
                "qty": str(o.remaining),
                "price": None if o.price is None else str(o.price),
            }
            for o in acct.open_orders
        ]
        if unread:
            out["exchange_error"] = unread
        return out


def bot_share(ks: KillSwitch, acct: AccountSnapshot) -> dict[str, Any]:
    """Per symbol, the account's holding, the baseline (not the bot's) and the
    bot's share: what a kill in bot scope would close."""
    floors, error = ks.floors()
    out: dict[str, Any] = {}
    for sym, inst in ks.venues.instruments().items():
        held = acct.position(sym)
        floor = floors.get(inst.base, Decimal(0))
        if not held and not floor:
            continue
        known = floor.is_finite()
        out[sym] = {
            "holding": str(held),
            "baseline": str(floor) if known else "unknown",
            "bot": str(held - floor) if known else "unknown",
        }
    return out | ({"error": error} if error else {})


def make_app(sentinel: Sentinel) -> FastAPI:
    app = FastAPI(title="bastion kill switch", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = CSP
        return response

    @app.get("/", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE)

    async def refuse(request: Request, what: str) -> JSONResponse | None:
        """None when the token is good; otherwise the (slowed, audited) 401."""
        header = request.headers.get("authorization")
        if sentinel.authorized(header):
            sentinel.failures = 0
            return None
        remote = request.client.host if request.client is not None else "unknown"
        sentinel.failures += 1
        sentinel.failures_total += 1
        outcome = "no_token" if not header else "bad_token"
        sentinel.audit.append(what, remote=remote, outcome=outcome, failures=sentinel.failures)
        await asyncio.sleep(min(0.25 * 2 ** (sentinel.failures - 1), 5.0))
        return JSONResponse(
            {"error": "unauthorized"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )

    @app.get("/status")
    async def status(request: Request) -> JSONResponse:
        refused = await refuse(request, "status_attempt")
        if refused is not None:
            return refused
        try:
            body = await asyncio.wait_for(asyncio.to_thread(sentinel.status), STATUS_TIMEOUT_S)
        except TimeoutError:
            body = {"exchange_error": f"no answer in {STATUS_TIMEOUT_S}s"}
        return JSONResponse(body)

    @app.post("/kill")
    async def kill(request: Request) -> JSONResponse:
        remote = request.client.host if request.client is not None else "unknown"
        refused = await refuse(request, "kill_attempt")
        if refused is not None:
            return refused
        reason = await _reason(request)
        sentinel.audit.append("kill_attempt", remote=remote, outcome="accepted", reason=reason)
        report = await asyncio.to_thread(
            sentinel.killswitch.kill, reason=reason, by=f"sentinel http {remote}"
        )
        sentinel.audit.append(
            "kill_done",
            remote=remote,
            ok=report["ok"],
            elapsed_s=report["elapsed_s"],
            remaining=report["remaining_positions"],
            dust=report["dust"],
        )
        return JSONResponse(report)

    return app


MAX_BODY = 4096


async def _reason(request: Request) -> str:
    """The kill's reason from the body, if it has a readable one: never a refusal."""
    try:
        body = await request.body()
        raw = json.loads(body) if 0 < len(body) <= MAX_BODY else {}
    except Exception:  # not JSON, not UTF-8, nested past the parser's depth: no reason given
        raw = {}
    reason = raw.get("reason") if isinstance(raw, dict) else None
    text = str(reason)[:MAX_REASON] if reason else "kill switch"
    return f"KILL: {text}"

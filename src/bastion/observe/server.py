"""The dashboard's HTTP side: the page, its JSON and event stream, the halt and
resume buttons, and ``/metrics``.

Everything that shows positions or moves the latch needs the bearer token
(from the environment, compared in constant time); without it the page is an
empty form and the API answers 401. ``/metrics`` is open on loopback, as
Prometheus scrapes expect (bind elsewhere only behind your own proxy). The
page is static and fetches its data; no inline script, a strict CSP, charts
from the vendored uPlot. The stream sends the whole snapshot whenever the
journal moves (and every few seconds, so ages keep ticking).
"""

from __future__ import annotations

import asyncio
import hmac
import os
import threading
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles

from bastion.observe.metrics import registry_for, render
from bastion.observe.redact import Redactor

if TYPE_CHECKING:
    from bastion.observe.service import ObserveService

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
STREAM_EVERY_S = 0.25
KEEPALIVE_S = 2.0
MAX_REASON = 200
STATIC = files("bastion.observe") / "static"


class Auth:
    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("the dashboard needs a token (set its environment variable)")
        self._token = token.encode()

    def ok(self, header: str | None, query: str | None = None) -> bool:
        offered = ""
        if header:
            scheme, _, value = header.partition(" ")
            offered = value.strip() if scheme.lower() == "bearer" else ""
        elif query:
            offered = query
        return hmac.compare_digest(offered.encode(), self._token)


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def make_app(service: ObserveService, token: str) -> FastAPI:
    auth = Auth(token)
    redact = Redactor()
    app = FastAPI(title="bastion dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    metrics = registry_for(service.read, service.clock)
    denied = JSONResponse({"error": "unauthorized"}, status_code=401)

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def state() -> dict[str, Any]:
        return redact.value(service.snapshot())  # type: ignore[no-any-return]

    @app.get("/", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse((STATIC / "dashboard.html").read_text(encoding="utf-8"))

    @app.get("/api/state")
    async def api_state(request: Request) -> Response:
        if not auth.ok(request.headers.get("authorization")):
            return denied
        return _json(state())

    @app.get("/api/stream")
    async def api_stream(request: Request, token: str = "") -> Response:
        if not auth.ok(request.headers.get("authorization"), token):
            return denied

        async def events() -> Any:
            seen, quiet = -1, 0.0
            while not await request.is_disconnected():
                seq = service.read(lambda b: b.last_seq)
                if seq != seen or quiet >= KEEPALIVE_S:
                    seen, quiet = seq, 0.0
                    yield b"data: " + orjson.dumps(state()) + b"\n\n"
                await asyncio.sleep(STREAM_EVERY_S)
                quiet += STREAM_EVERY_S

        return StreamingResponse(events(), media_type="text/event-stream")

    async def _latch(request: Request, target: str) -> Response:
        if not auth.ok(request.headers.get("authorization")):
            return denied
        if service.latch_writer is None:
            return _json({"error": "this dashboard cannot change the latch"}, 503)
        try:
            raw = await request.json()
        except ValueError:
            raw = {}
        reason = str(raw.get("reason") or "").strip()[:MAX_REASON] if isinstance(raw, dict) else ""
        if not reason:
            return _json({"error": "a reason is required"}, 400)
        remote = request.client.host if request.client is not None else "unknown"
        writer = service.latch_writer
        previous = await asyncio.to_thread(writer, target, reason, f"dashboard {remote}")
        return _json({"previous": previous, "state": target, "reason": reason})

    @app.post("/api/halt")
    async def halt(request: Request) -> Response:
        return await _latch(request, "HALTED")

    @app.post("/api/resume")
    async def resume(request: Request) -> Response:
        return await _latch(request, "ACTIVE")

    @app.get("/metrics")
    async def prometheus() -> Response:
        body = await asyncio.to_thread(render, metrics)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    return app


def serve_in_thread(service: ObserveService) -> Any:
    """Start uvicorn on its own thread (its own event loop); returns the server."""
    import uvicorn

    cfg = service.obs.dashboard
    token = os.environ.get(cfg.token_env, "")
    app = make_app(service, token)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=cfg.host, port=cfg.port, log_level="warning", access_log=False,
            lifespan="off",
        )
    )  # fmt: skip
    thread = threading.Thread(target=server.run, name="bastion-dashboard", daemon=True)
    thread.start()
    return server

"""Binance's WebSocket side: market streams, the user data stream and the WS API.

Endpoints, all on the REST port:
- ``/ws`` and ``/ws/<stream>[/<stream>...]``: raw streams; subscribe in-band
  with ``{"method": "SUBSCRIBE", "params": [...], "id": n}`` (ccxt.pro connects
  to ``/ws/<n>`` and subscribes this way);
- ``/stream?streams=a/b``: combined streams, each message wrapped as
  ``{"stream": name, "data": payload}``;
- ``/ws/<listenKey>``: the user data stream of a key from ``/api/v3/userDataStream``;
- ``/ws-api/v3``: the WebSocket API, for ``userDataStream.subscribe.signature``
  (how ccxt.pro's ``watch_orders`` listens on spot), ``ping`` and ``time``.

Each connection has its own queue and writer task, so one slow client never
holds up the market loop; stream faults (stall, duplicate, late, disconnect)
act per connection at enqueue time.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from bastion.emulator import errors, signing
from bastion.emulator.faults import FaultKind, FaultPlan, FaultSpec, drift

_MAX_QUEUE = 50_000


@dataclass(eq=False, slots=True)
class Connection:
    ws: web.WebSocketResponse
    path: str
    combined: bool = False
    streams: set[str] = field(default_factory=set)
    user: bool = False
    subscription_id: int | None = None  # WS API user-data subscription
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)


class ListenKeys:
    """Listen keys for the user data stream, one per API key, as Binance hands them out."""

    def __init__(self) -> None:
        self._by_api_key: dict[str, str] = {}

    def create(self, api_key: str) -> str:
        key = self._by_api_key.get(api_key)
        if key is None:
            key = self._by_api_key[api_key] = secrets.token_urlsafe(45)[:60]
        return key

    def valid(self, key: str) -> bool:
        return key in self._by_api_key.values()

    def close(self, key: str) -> None:
        self._by_api_key = {a: k for a, k in self._by_api_key.items() if k != key}


class StreamHub:
    """Every open WebSocket, what each is subscribed to, and the send path with faults."""

    def __init__(
        self,
        faults: FaultPlan,
        listen_keys: ListenKeys,
        api_keys: Mapping[str, str],
        server_ms: Callable[[], int],
    ) -> None:
        self.faults = faults
        self.listen_keys = listen_keys
        self.api_keys = api_keys
        self.server_ms = server_ms
        self.connections: set[Connection] = set()
        self._next_sub = 0

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/ws", self.handle_stream),
            web.get("/ws/{tail:.*}", self.handle_stream),
            web.get("/stream", self.handle_stream),
            web.get("/ws-api/v3", self.handle_ws_api),
        ]

    # ------------------------------------------------------------- publishing
    def publish(self, names: tuple[str, ...], payload: Any) -> None:
        """Send a market message to every connection subscribed under any of ``names``."""
        raw: bytes | None = None
        for conn in list(self.connections):
            name = next((n for n in names if n in conn.streams), None)
            if name is None:
                continue
            if raw is None:
                raw = orjson.dumps(payload)
            self._send(conn, name, payload, raw)

    def wants(self, names: tuple[str, ...]) -> bool:
        """Whether any connection is subscribed to any of ``names``."""
        return any(n in conn.streams for conn in self.connections for n in names)

    def publish_user(self, payload: dict[str, Any]) -> None:
        """A user-data event to every listen-key and WS-API subscriber."""
        name = str(payload.get("e", "user"))
        for conn in list(self.connections):
            if conn.user:
                self._send(conn, name, payload, orjson.dumps(payload))
            elif conn.subscription_id is not None:
                wrapped = {"subscriptionId": conn.subscription_id, "event": payload}
                self._send(conn, name, wrapped, orjson.dumps(wrapped))

    def _send(self, conn: Connection, name: str, payload: Any, raw: bytes) -> None:
        take = self.faults.take
        if take(FaultKind.WS_DISCONNECT, path=conn.path, stream=name):
            self._drop(conn)
            return
        if take(FaultKind.WS_STALL, path=conn.path, stream=name):
            return
        spec = take(FaultKind.SCHEMA_DRIFT, path=conn.path, stream=name)
        if spec is not None:
            raw = orjson.dumps(_drift_event(payload, spec))
        text = f'{{"stream":"{name}","data":{raw.decode()}}}' if conn.combined else raw.decode()
        late = take(FaultKind.LATE_MESSAGES, path=conn.path, stream=name)
        copies = 2 if take(FaultKind.DUPLICATE_MESSAGES, path=conn.path, stream=name) else 1
        for _ in range(copies):
            if late is not None:
                asyncio.get_running_loop().call_later(
                    self.faults.delay_s(late), self._enqueue, conn, text
                )
            else:
                self._enqueue(conn, text)

    def _enqueue(self, conn: Connection, text: str) -> None:
        if conn not in self.connections:
            return
        if conn.queue.qsize() > _MAX_QUEUE:
            self._drop(conn)  # a client this far behind is gone; Binance drops it too
            return
        conn.queue.put_nowait(text)

    def _drop(self, conn: Connection) -> None:
        self.connections.discard(conn)
        conn.queue.put_nowait(None)

    def disconnect_matching(self) -> int:
        """Apply pending ``ws_disconnect`` faults to open connections now; returns how many."""
        n = 0
        for conn in list(self.connections):
            names = sorted(conn.streams) or ["user" if conn.user else ""]
            if any(
                self.faults.take(FaultKind.WS_DISCONNECT, path=conn.path, stream=s) for s in names
            ):
                self._drop(conn)
                n += 1
        return n

    async def close_all(self) -> None:
        for conn in list(self.connections):
            self._drop(conn)

    # --------------------------------------------------------------- handlers
    async def handle_stream(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)
        conn = Connection(ws=ws, path=request.path)
        tail = request.match_info.get("tail", "")
        if request.path == "/stream":
            conn.combined = True
            conn.streams.update(s for s in request.query.get("streams", "").split("/") if s)
        elif tail and self.listen_keys.valid(tail):
            conn.user = True
        else:
            conn.streams.update(s for s in tail.split("/") if "@" in s)
        return await self._serve(conn, self._on_stream_message)

    async def handle_ws_api(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)
        return await self._serve(Connection(ws=ws, path=request.path), self._on_api_message)

    async def _serve(
        self, conn: Connection, on_message: Callable[[Connection, Any], dict[str, Any] | None]
    ) -> web.WebSocketResponse:
        self.connections.add(conn)
        writer = asyncio.create_task(self._writer(conn))
        try:
            async for msg in conn.ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                try:
                    body = orjson.loads(msg.data)
                except orjson.JSONDecodeError:
                    body = None
                reply = on_message(conn, body)
                if reply is not None:
                    self._enqueue(conn, orjson.dumps(reply).decode())
        finally:
            self.connections.discard(conn)
            conn.queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return conn.ws

    async def _writer(self, conn: Connection) -> None:
        try:
            while (text := await conn.queue.get()) is not None:
                await conn.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self.connections.discard(conn)
            await conn.ws.close()

    def _on_stream_message(self, conn: Connection, body: Any) -> dict[str, Any] | None:
        if not isinstance(body, dict) or "method" not in body:
            return {"error": {"code": 3, "msg": "Invalid JSON: expected a method"}, "id": None}
        method, params, rid = body.get("method"), body.get("params") or [], body.get("id")
        if method == "SUBSCRIBE" and isinstance(params, list):
            conn.streams.update(str(p) for p in params)
            return {"result": None, "id": rid}
        if method == "UNSUBSCRIBE" and isinstance(params, list):
            conn.streams.difference_update(str(p) for p in params)
            return {"result": None, "id": rid}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(conn.streams), "id": rid}
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            return {"result": None if method == "SET_PROPERTY" else False, "id": rid}
        return {"error": {"code": 2, "msg": f"Invalid request: unknown method {method}"}, "id": rid}

    def _on_api_message(self, conn: Connection, body: Any) -> dict[str, Any] | None:
        if not isinstance(body, dict):
            return {"id": None, "status": 400, "error": {"code": -1100, "msg": "Malformed request"}}
        rid, method = body.get("id"), body.get("method")
        params = body.get("params") or {}
        try:
            if method == "ping":
                result: dict[str, Any] = {}
            elif method == "time":
                result = {"serverTime": self.server_ms()}
            elif method == "userDataStream.subscribe.signature":
                self._verify_ws_signature(params)
                conn.subscription_id = self._next_sub
                self._next_sub += 1
                result = {"subscriptionId": conn.subscription_id}
            elif method == "userDataStream.unsubscribe":
                conn.subscription_id = None
                result = {}
            else:
                raise errors.ApiError(400, -1020, "This operation is not supported.")
        except errors.ApiError as exc:
            return {"id": rid, "status": exc.status, "error": exc.body()}
        return {"id": rid, "status": 200, "result": result, "rateLimits": []}

    def _verify_ws_signature(self, params: Mapping[str, Any]) -> None:
        """WS API signing: HMAC over the sorted ``key=value`` pairs except the signature."""
        strs = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
        key = strs.get("apiKey", "")
        payload = "&".join(f"{k}={v}" for k, v in sorted(strs.items()) if k != "signature")
        signing.verify(
            query=payload + "&signature=" + strs.get("signature", ""),
            body="",
            params=strs,
            headers={"X-MBX-APIKEY": key},
            keys=self.api_keys,
            server_ms=self.server_ms(),
        )


def _drift_event(payload: Any, spec: FaultSpec) -> Any:
    """Drift the event itself: a WS API subscriber's events arrive wrapped in
    ``{"subscriptionId", "event"}``, and the wrapper is not what drifts."""
    if isinstance(payload, dict) and "subscriptionId" in payload and "event" in payload:
        return {**payload, "event": drift(payload["event"], spec)}
    return drift(payload, spec)

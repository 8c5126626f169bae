"""The admin API (separate port, loopback): what tests and operators do to the exchange.

- ``GET/POST/DELETE /faults``: list, add (``{"faults": [...]}``, a list or one
  fault), clear (all, or ``?id=``);
- ``GET /orders``: every order request received (``?clientOrderId=`` filters),
  accepted or refused, so a test can assert "at most one order per client id";
- ``GET /requests``: how many REST requests arrived, per ``METHOD /path``
  (whatever became of them), so a test can assert "nothing was sent here";
- ``GET /state``: balances and open orders;
- ``POST /balances``: ``{"USDT": "1000"}`` sets totals (a deposit/withdrawal);
- ``POST /manual_trade``: ``{"symbol", "side", "quantity"}`` trades by hand
  outside the bot (a market order with a ``web_`` client id, as Binance's web
  UI would place it), or with ``"mode": "adjust"`` and a ``price`` moves the
  balances without an order (a position changed elsewhere);
- ``POST /market/quote``, ``/market/trade``: push a market event; ``POST
  /market/resume`` starts a paused source.
"""

from __future__ import annotations

import dataclasses
import itertools
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from bastion.emulator import binance_format as fmt
from bastion.emulator.errors import ApiError
from bastion.emulator.faults import FaultError, FaultKind, parse_faults
from bastion.emulator.market import QuoteEvent, TradeEvent

if TYPE_CHECKING:
    from bastion.emulator.server import Emulator


class AdminError(ValueError):
    pass


def make_app(emu: Emulator) -> web.Application:
    manual_ids = itertools.count(1)

    async def body(request: web.Request) -> Any:
        try:
            return orjson.loads(await request.read() or b"{}")
        except orjson.JSONDecodeError as exc:
            raise AdminError(f"body is not JSON: {exc}") from None

    def reply(value: Any, status: int = 200) -> web.Response:
        return web.Response(
            status=status, body=orjson.dumps(value), content_type="application/json"
        )

    @web.middleware
    async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            resp: web.StreamResponse = await handler(request)
            return resp
        except (AdminError, FaultError, ApiError) as exc:
            return reply({"error": str(exc)}, 400)

    async def get_faults(request: web.Request) -> web.Response:
        return reply({"faults": emu.faults.active()})

    async def post_faults(request: web.Request) -> web.Response:
        raw = await body(request)
        specs = parse_faults([raw] if isinstance(raw, dict) and "kind" in raw else raw)
        ids = emu.faults.add(specs)
        dropped = 0
        if any(s.kind is FaultKind.WS_DISCONNECT for s in specs):
            dropped = emu.hub.disconnect_matching()
        return reply({"ids": ids, "disconnected": dropped})

    async def delete_faults(request: web.Request) -> web.Response:
        fid = request.query.get("id")
        emu.faults.clear(int(fid) if fid else None)
        return reply({"faults": emu.faults.active()})

    async def get_orders(request: web.Request) -> web.Response:
        cid = request.query.get("clientOrderId")
        rows = [dataclasses.asdict(r) for r in emu.exchange.received]
        return reply({"orders": [r for r in rows if cid is None or r["client_id"] == cid]})

    async def get_requests(request: web.Request) -> web.Response:
        return reply({"requests": dict(emu.rest.calls) if emu.rest is not None else {}})

    async def get_state(request: web.Request) -> web.Response:
        bals = emu.exchange.balances()
        return reply(
            {
                "serverTime": emu.server_ms(),
                "balances": {
                    a: {"free": fmt.fmt(b.free), "locked": fmt.fmt(b.locked)}
                    for a, b in bals.items()
                },
                "openOrders": [fmt.order_query(r) for r in emu.exchange.open_orders(None)],
                "eventsApplied": emu.events_applied,
            }
        )  # fmt: skip

    async def post_balances(request: web.Request) -> web.Response:
        raw = await body(request)
        if not isinstance(raw, dict):
            raise AdminError('expected {"ASSET": "total", ...}')
        for asset, total in raw.items():
            emu.exchange.set_balance(str(asset).upper(), _dec(total, asset), emu.server_ms())
        emu.flush_user()
        return await get_state(request)

    async def post_manual_trade(request: web.Request) -> web.Response:
        raw = await body(request)
        sym = fmt.exchange_symbol(str(raw.get("symbol", "")))
        side = str(raw.get("side", "")).upper()
        qty = _dec(raw.get("quantity"), "quantity")
        now = emu.server_ms()
        if raw.get("mode", "order") == "adjust":
            inst = emu.exchange.instruments.get(sym)
            if inst is None or side not in ("BUY", "SELL"):
                raise AdminError("adjust needs a known symbol and side BUY or SELL")
            price = _dec(raw.get("price"), "price")
            sign = 1 if side == "BUY" else -1
            bals = emu.exchange.balances()
            for asset, delta in ((inst.base, sign * qty), (inst.quote, -sign * qty * price)):
                total = bals[asset].total if asset in bals else Decimal(0)
                emu.exchange.set_balance(asset, total + delta, now)
            emu.flush_user()
            return await get_state(request)
        params = {
            "symbol": sym, "side": side, "type": "MARKET", "quantity": str(qty),
            "newClientOrderId": str(raw.get("clientOrderId") or f"web_{next(manual_ids)}"),
        }  # fmt: skip
        rec, fills, _ = emu.exchange.place(params, now)
        emu.flush_user()
        return reply(fmt.order_full(rec, fills))

    async def post_quote(request: web.Request) -> web.Response:
        raw = await body(request)
        emu.apply(
            QuoteEvent(
                symbol=fmt.exchange_symbol(str(raw["symbol"])), ts=emu.server_ms(),
                bid=_dec(raw["bid"], "bid"), bid_qty=_dec(raw.get("bid_qty", "1"), "bid_qty"),
                ask=_dec(raw["ask"], "ask"), ask_qty=_dec(raw.get("ask_qty", "1"), "ask_qty"),
            )
        )  # fmt: skip
        return reply({"ok": True})

    async def post_trade(request: web.Request) -> web.Response:
        raw = await body(request)
        emu.apply(
            TradeEvent(
                symbol=fmt.exchange_symbol(str(raw["symbol"])), ts=emu.server_ms(),
                price=_dec(raw["price"], "price"), qty=_dec(raw.get("qty", "1"), "qty"),
                buyer_maker=bool(raw.get("buyer_maker", False)),
            )
        )  # fmt: skip
        return reply({"ok": True})

    async def post_resume(request: web.Request) -> web.Response:
        emu.resume_market()
        return reply({"ok": True})

    app = web.Application(middlewares=[errors])
    app.add_routes(
        [
            web.get("/faults", get_faults),
            web.post("/faults", post_faults),
            web.delete("/faults", delete_faults),
            web.get("/orders", get_orders),
            web.get("/requests", get_requests),
            web.get("/state", get_state),
            web.post("/balances", post_balances),
            web.post("/manual_trade", post_manual_trade),
            web.post("/market/quote", post_quote),
            web.post("/market/trade", post_trade),
            web.post("/market/resume", post_resume),
        ]
    )
    return app


def _dec(value: Any, name: object) -> Decimal:
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise AdminError(f"{name}: expected a decimal number, got {value!r}") from None
    if not out.is_finite():
        raise AdminError(f"{name}: expected a finite number, got {value!r}")
    return out

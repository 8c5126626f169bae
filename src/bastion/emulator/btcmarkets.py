"""The BTC Markets dialect: REST API v3 over the same order desk and market.

``ccxt.btcmarkets``, unmodified but for its URLs, trades against these
routes (``/v3/...``, beside Binance's ``/api/v3/...`` on the same port):
markets, ticker, order book, trades, candles, orders with ``clientOrderId``,
balances and our trades. Requests become the desk's (Binance-shaped)
parameters, so matching, funds, filters and records are the same engine's;
replies and errors are BTC Markets' shapes.

Shapes follow the replies quoted in ccxt's btcmarkets parser and BTC Markets'
v3 docs: ISO-8601 times, amounts as strings, ``Bid``/``Ask`` sides, order
statuses ``Accepted``/``Placed``/``Partially Matched``/``Fully Matched``/
``Cancelled``. Errors are ``{"code": ..., "message": ...}`` with the codes
ccxt maps (InsufficientFund, InvalidPrice, InvalidAmount, MissingArgument,
OrderNotFound, OrderStatusIsFinal, MarketNotFound); the authentication codes
and ``TooManyRequests`` are ours where the docs give none. Auth: HMAC-SHA512,
keyed by the base64-decoded secret, over method + path + timestamp (+ the
JSON body on POST), base64, in ``BM-AUTH-*`` headers. Rate limit: 50 calls
per 10 s, 30 for order placement (BTC Markets' published defaults).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

from bastion.emulator import errors
from bastion.emulator.binance_format import exchange_symbol
from bastion.emulator.exchange import Exchange
from bastion.emulator.faults import FaultKind, FaultPlan
from bastion.emulator.marketstate import INTERVALS_MS, MarketState
from bastion.emulator.records import FillRecord, OrderRecord

# Test credentials, not secrets: BTC Markets secrets are base64.
BTCM_API_KEY = "bastion-btcm-key"
BTCM_API_SECRET = base64.b64encode(b"bastion-btcm-emulator-secret").decode()
_WINDOW_MS, _LIMIT, _ORDER_LIMIT = 10_000, 50, 30
_TIME_WINDOW_MS = 30_000
# Binance's refusals (the desk speaks them) in BTC Markets' words.
_CODES = {
    -2010: ("InsufficientFund", 400),
    -1013: ("InvalidAmount", 400),
    -1121: ("MarketNotFound", 400),
    -1102: ("MissingArgument", 400),
    -1100: ("InvalidArgument", 400),
    -1115: ("InvalidArgument", 400),
    -1116: ("InvalidArgument", 400),
    -2011: ("OrderNotFound", 404),
    -2013: ("OrderNotFound", 404),
}


def market_id(symbol: str) -> str:
    """``BTC/AUD`` → ``BTC-AUD``."""
    return symbol.replace("/", "-")


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def num(value: Decimal | None) -> str:
    """BTC Markets writes amounts without trailing zeros."""
    v = value if value is not None else Decimal(0)
    return format(v.normalize(), "f") if v else "0"


class BtcMarketsError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message = status, code, message


def _status(rec: OrderRecord) -> str:
    if rec.status == "FILLED":
        return "Fully Matched"
    if rec.status in ("CANCELED", "EXPIRED"):
        return "Partially Cancelled" if rec.executed else "Cancelled"
    if rec.status == "REJECTED":
        return "Failed"
    return "Partially Matched" if rec.executed else "Placed"


def order_json(rec: OrderRecord, unified: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "orderId": str(rec.order_id),
        "marketId": market_id(unified),
        "side": "Bid" if rec.side.value == "buy" else "Ask",
        "type": "Market" if rec.type_name == "MARKET" else "Limit",
        "creationTime": iso(rec.created_ms),
        "price": num(rec.price),
        "amount": num(rec.qty),
        "openAmount": num(rec.qty - rec.executed if rec.is_open else Decimal(0)),
        "status": _status(rec),
        "clientOrderId": rec.client_id,
        "timeInForce": rec.tif_name or "GTC",
        "postOnly": rec.type_name == "LIMIT_MAKER",
        "selfTrade": "A",
    }
    return out


def trade_json(f: FillRecord, unified: str, client_id: str) -> dict[str, Any]:
    return {
        "id": str(f.trade_id),
        "marketId": market_id(unified),
        "timestamp": iso(f.time),
        "price": num(f.price),
        "amount": num(f.qty),
        "side": "Bid" if f.side.value == "buy" else "Ask",
        "fee": num(f.commission),
        "orderId": str(f.order_id),
        "liquidityType": "Maker" if f.is_maker else "Taker",
        "clientOrderId": client_id,
    }


class BtcMarketsApi:
    """BTC Markets' REST v3 routes; ``server_ms`` is the exchange clock."""

    def __init__(
        self,
        *,
        exchange: Exchange,
        market: MarketState,
        faults: FaultPlan,
        api_keys: Mapping[str, str],
        server_ms: Callable[[], int],
        after_change: Callable[[], None],
        limits: tuple[int, int] = (_LIMIT, _ORDER_LIMIT),
    ) -> None:
        self.exchange = exchange
        self.limit, self.order_limit = limits  # calls, order placements per 10 s
        self.market = market
        self.faults = faults
        self.api_keys = api_keys
        self.server_ms = server_ms
        self.after_change = after_change
        self._calls: deque[int] = deque()
        self._orders: deque[int] = deque()
        self.by_market = {market_id(i.symbol): i for i in exchange.instruments.values()}

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", "/v3/{tail:.*}", self.dispatch)]

    # ---------------------------------------------------------------- pipeline
    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path, method = request.path, request.method
        body = await request.text() if request.can_read_body else ""
        spec = self.faults.take(FaultKind.TIMEOUT_BEFORE_ACCEPT, path=path, method=method)
        if spec is not None:
            return await self._drop(request)
        try:
            self._meter(method, path)
            parts = path.strip("/").split("/")[1:]  # after "v3"
            private = parts[0] in ("orders", "trades", "accounts")
            if private:
                self._verify(request, method, path, body)
            params: dict[str, Any] = dict(request.query)
            if body:
                params.update(orjson.loads(body))
            result = self._route(method, parts, params)
        except BtcMarketsError as exc:
            return _json({"code": exc.code, "message": exc.message}, exc.status)
        except errors.ApiError as exc:
            code, status = _CODES.get(exc.code, ("InvalidArgument", 400))
            if exc.code == -2010 and "Duplicate" in exc.msg:
                code = "InvalidArgument"
            return _json({"code": code, "message": exc.msg}, status)
        except (ValueError, KeyError, ArithmeticError, orjson.JSONDecodeError):
            return _json({"code": "InvalidArgument", "message": "invalid request"}, 400)
        finally:
            self.after_change()
        spec = self.faults.take(FaultKind.TIMEOUT_AFTER_ACCEPT, path=path, method=method)
        if spec is not None:
            return await self._drop(request)
        return _json(result, 200)

    async def _drop(self, request: web.Request) -> web.StreamResponse:
        """No reply: the socket is dropped (after the desk acted, for a timeout after accept)."""
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError  # nothing may be written on a dropped socket

    def _meter(self, method: str, path: str) -> None:
        now = self.server_ms()
        for q in (self._calls, self._orders):
            while q and q[0] <= now - _WINDOW_MS:
                q.popleft()
        placing = (method, path) == ("POST", "/v3/orders")
        if len(self._calls) >= self.limit or (placing and len(self._orders) >= self.order_limit):
            raise BtcMarketsError(429, "TooManyRequests", "too many requests")
        self._calls.append(now)
        if placing:
            self._orders.append(now)

    def _verify(self, request: web.Request, method: str, path: str, body: str) -> None:
        h = request.headers
        key, ts, sig = (h.get(f"BM-AUTH-{n}") for n in ("APIKEY", "TIMESTAMP", "SIGNATURE"))
        secret = self.api_keys.get(key or "")
        if secret is None or not ts or not sig:
            raise BtcMarketsError(401, "UnAuthorized", "invalid access token")
        if not ts.isdigit() or abs(int(ts) - self.server_ms()) > _TIME_WINDOW_MS:
            raise BtcMarketsError(400, "InvalidAuthTimestamp", "invalid timestamp")
        payload = (method + path + ts + (body if method == "POST" else "")).encode()
        want = base64.b64encode(
            hmac.new(base64.b64decode(secret), payload, hashlib.sha512).digest()
        ).decode()
        if not hmac.compare_digest(want, sig):
            raise BtcMarketsError(401, "InvalidAuthSignature", "invalid signature")

    # ---------------------------------------------------------------- routing
    def _route(self, method: str, parts: list[str], p: dict[str, Any]) -> Any:
        head = parts[0] if parts else ""
        if method == "GET" and head == "time":
            return {"timestamp": iso(self.server_ms())}
        if method == "GET" and head == "markets":
            if len(parts) == 1:
                return [self._market(m) for m in self.by_market]
            return self._market_data(parts[1], parts[2] if len(parts) > 2 else "", p)
        if head == "orders":
            return self._orders_route(method, parts, p)
        if method == "GET" and head == "trades":
            return self._my_trades(p)
        if method == "GET" and parts == ["accounts", "me", "balances"]:
            return [
                {"assetName": b.asset, "balance": num(b.total), "available": num(b.free),
                 "locked": num(b.locked)}
                for b in sorted(self.exchange.balances().values(), key=lambda b: b.asset)
            ]  # fmt: skip
        raise BtcMarketsError(404, "NotFound", "resource not found")

    def _market(self, mid: str) -> dict[str, Any]:
        inst = self.by_market[mid]
        return {
            "marketId": mid, "baseAssetName": inst.base, "quoteAssetName": inst.quote,
            "minOrderAmount": num(max(inst.min_qty, inst.lot_size)), "maxOrderAmount": "1000000",
            "amountDecimals": str(_decimals(inst.lot_size)),
            "priceDecimals": str(_decimals(inst.tick_size)),
            "status": "Online",
        }  # fmt: skip

    def _sym(self, mid: str) -> str:
        inst = self.by_market.get(mid)
        if inst is None:
            raise BtcMarketsError(400, "MarketNotFound", "invalid marketId")
        return exchange_symbol(inst.symbol)

    def _market_data(self, mid: str, what: str, p: Mapping[str, Any]) -> Any:
        m = self.market.symbol_market(self._sym(mid))
        now = self.server_ms()
        if what == "ticker":
            t = m.ticker_24h(now)
            return {
                "marketId": mid, "bestBid": _s(t["bidPrice"]), "bestAsk": _s(t["askPrice"]),
                "lastPrice": _s(t["lastPrice"]), "volume24h": _s(t["volume"]),
                "volumeQte24h": _s(t["quoteVolume"]), "price24h": _s(t["priceChange"]),
                "pricePct24h": t["priceChangePercent"], "low24h": _s(t["lowPrice"]),
                "high24h": _s(t["highPrice"]), "timestamp": iso(now),
            }  # fmt: skip
        if what == "orderbook":
            book = m.depth(50)
            return {
                "marketId": mid, "snapshotId": now * 1000,
                "asks": [[_s(a), _s(q)] for a, q in book["asks"]],
                "bids": [[_s(b), _s(q)] for b, q in book["bids"]],
            }  # fmt: skip
        if what == "trades":
            trades = m.recent_trades(min(int(p.get("limit", 200)), 200))
            return [
                {"id": str(r["id"]), "price": _s(r["price"]), "amount": _s(r["qty"]),
                 "timestamp": iso(r["time"]), "side": "Ask" if r["isBuyerMaker"] else "Bid"}
                for r in reversed(trades)
            ]  # fmt: skip
        if what == "candles":
            interval = INTERVALS_MS.get(str(p.get("timeWindow", "1m")))
            if interval is None:
                raise BtcMarketsError(400, "InvalidArgument", "invalid timeWindow")
            start = _parse_iso(p["from"]) if p.get("from") else None
            rows = m.kline_rows(interval, start, None, min(int(p.get("limit", 10)), 200))
            return [[iso(r[0]), r[1], r[2], r[3], r[4], r[5]] for r in rows]
        raise BtcMarketsError(404, "NotFound", "resource not found")

    def _orders_route(self, method: str, parts: list[str], p: dict[str, Any]) -> Any:
        ex = self.exchange
        if method == "POST" and len(parts) == 1:
            return self._place(p)
        if method == "GET" and len(parts) == 1:
            want = str(p.get("status", "open"))
            sym = self._sym(str(p["marketId"])) if p.get("marketId") else None
            recs = [
                r for r in ex.records.values()
                if (sym is None or r.symbol == sym) and (want == "all" or r.is_open)
            ]  # fmt: skip
            recs.sort(key=lambda r: r.order_id, reverse=True)  # newest first, as BTC Markets pages
            return [order_json(r, r.unified) for r in recs[: int(p.get("limit", 100))]]
        rec = ex.records.get(int(parts[1])) if len(parts) == 2 and parts[1].isdigit() else None
        if rec is None:
            raise BtcMarketsError(404, "OrderNotFound", "order not found")
        if method == "GET":
            return order_json(rec, rec.unified)
        if method == "DELETE":
            if not rec.is_open:
                raise BtcMarketsError(400, "OrderStatusIsFinal", "order is already final")
            ex.cancel({"symbol": rec.symbol, "orderId": str(rec.order_id)}, self.server_ms())
            return {"orderId": str(rec.order_id), "clientOrderId": rec.client_id}
        raise BtcMarketsError(405, "MethodNotAllowed", "method not allowed")

    def _place(self, p: Mapping[str, Any]) -> Any:
        sym = self._sym(str(p.get("marketId", "")))
        kind = str(p.get("type", "Limit"))
        if kind not in ("Limit", "Market"):
            raise BtcMarketsError(400, "InvalidArgument", f"order type {kind} is not supported")
        side = {"Bid": "BUY", "Ask": "SELL"}.get(str(p.get("side")))
        if side is None or not p.get("amount"):
            raise BtcMarketsError(400, "MissingArgument", "side and amount are required")
        desk: dict[str, str] = {"symbol": sym, "side": side, "quantity": str(p["amount"])}
        if p.get("clientOrderId"):
            desk["newClientOrderId"] = str(p["clientOrderId"])
        if kind == "Market":
            desk["type"] = "MARKET"
        elif p.get("postOnly") in (True, "true"):
            desk.update(type="LIMIT_MAKER", price=str(p.get("price", "")))
        else:
            tif = str(p.get("timeInForce", "GTC"))
            desk.update(type="LIMIT", price=str(p.get("price", "")), timeInForce=tif)
        if kind == "Limit" and not p.get("price"):
            raise BtcMarketsError(400, "InvalidPrice", "price is required for a limit order")
        rec, _, _ = self.exchange.place(desk, self.server_ms())
        return order_json(rec, rec.unified)

    def _my_trades(self, p: Mapping[str, Any]) -> Any:
        ex = self.exchange
        sym = self._sym(str(p["marketId"])) if p.get("marketId") else None
        rows = [f for f in ex.fills if sym is None or f.symbol == sym]
        if p.get("orderId"):
            rows = [f for f in rows if f.order_id == int(p["orderId"])]
        rows.sort(key=lambda f: f.trade_id, reverse=True)
        return [
            trade_json(f, ex.records[f.order_id].unified, ex.records[f.order_id].client_id)
            for f in rows[: int(p.get("limit", 100))]
        ]


def _decimals(step: Decimal) -> int:
    """0.01 → 2: how many decimals an increment has."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _s(raw: str) -> str:
    """A Binance-formatted amount (eight places) as BTC Markets writes it."""
    return num(Decimal(raw))


def _parse_iso(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _json(value: Any, status: int) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(value), content_type="application/json")

"""Binance spot REST API v3: routing, faults, weights, signing, replies.

One catch-all route feeds ``RestApi.dispatch``, which runs every request
through the same steps in the order the real exchange (and a bad network)
would: injected faults → weight (429/418) → key and signature → the
endpoint → faults on the reply (timeout after accept, schema drift) → JSON
with ``X-MBX-USED-WEIGHT-1M``. Endpoints are plain functions of the parsed
parameters that return JSON values or raise ``ApiError``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from bastion.emulator import binance_format as fmt
from bastion.emulator import errors, signing
from bastion.emulator.exchange import Exchange
from bastion.emulator.faults import FaultKind, FaultPlan, FaultSpec, drift
from bastion.emulator.history import KlineHistory
from bastion.emulator.marketstate import INTERVALS_MS, MarketState
from bastion.emulator.streams import ListenKeys
from bastion.emulator.weights import WeightMeter, weight_of

Params = Mapping[str, str]
Endpoint = Callable[[Params, str | None], Any]

PUBLIC, KEYED, SIGNED = "public", "keyed", "signed"


@dataclass(frozen=True, slots=True)
class Route:
    security: str
    fn: Endpoint


class RestApi:
    """The REST side of the emulator; ``server_ms`` is the exchange clock (skew included)."""

    def __init__(
        self,
        *,
        exchange: Exchange,
        market: MarketState,
        faults: FaultPlan,
        weights: WeightMeter,
        listen_keys: ListenKeys,
        api_keys: Mapping[str, str],
        server_ms: Callable[[], int],
        after_change: Callable[[], None],
        stopping: asyncio.Event,
        history: KlineHistory | None = None,
    ) -> None:
        self.exchange = exchange
        self.history = history or KlineHistory()
        self.market = market
        self.faults = faults
        self.weights = weights
        self.listen_keys = listen_keys
        self.api_keys = api_keys
        self.server_ms = server_ms
        self.after_change = after_change  # flushes user-stream events after an order call
        self.stopping = stopping
        self._orders_sent: deque[int] = deque()  # times of order requests, for the count headers
        self.calls: Counter[str] = Counter()  # "METHOD /path" -> requests received, any outcome
        self.table: dict[tuple[str, str], Route] = {
            ("GET", "/api/v3/ping"): Route(PUBLIC, lambda p, k: {}),
            ("GET", "/api/v3/time"): Route(PUBLIC, lambda p, k: {"serverTime": self.server_ms()}),
            ("GET", "/api/v3/exchangeInfo"): Route(PUBLIC, self.exchange_info),
            ("GET", "/api/v3/depth"): Route(PUBLIC, self.depth),
            ("GET", "/api/v3/ticker/bookTicker"): Route(PUBLIC, self.book_ticker),
            ("GET", "/api/v3/ticker/24hr"): Route(PUBLIC, self.ticker_24h),
            ("GET", "/api/v3/ticker/price"): Route(PUBLIC, self.ticker_price),
            ("GET", "/api/v3/avgPrice"): Route(PUBLIC, self.avg_price),
            ("GET", "/api/v3/klines"): Route(PUBLIC, self.klines),
            ("GET", "/api/v3/trades"): Route(PUBLIC, self.trades),
            ("GET", "/api/v3/aggTrades"): Route(PUBLIC, self.agg_trades),
            ("POST", "/api/v3/order"): Route(SIGNED, self.new_order),
            ("GET", "/api/v3/order"): Route(SIGNED, self.get_order),
            ("DELETE", "/api/v3/order"): Route(SIGNED, self.cancel_order),
            ("GET", "/api/v3/openOrders"): Route(SIGNED, self.open_orders),
            ("POST", "/api/v3/orderList/oco"): Route(SIGNED, self.new_oco),
            ("DELETE", "/api/v3/orderList"): Route(SIGNED, self.cancel_list),
            ("GET", "/api/v3/orderList"): Route(SIGNED, self.get_list),
            ("GET", "/api/v3/openOrderList"): Route(SIGNED, self.open_lists),
            ("DELETE", "/api/v3/openOrders"): Route(SIGNED, self.cancel_all),
            ("GET", "/api/v3/allOrders"): Route(SIGNED, self.all_orders),
            ("GET", "/api/v3/myTrades"): Route(SIGNED, self.my_trades),
            ("GET", "/api/v3/account"): Route(SIGNED, self.account),
            ("POST", "/api/v3/userDataStream"): Route(KEYED, self.new_listen_key),
            ("PUT", "/api/v3/userDataStream"): Route(KEYED, self.keep_listen_key),
            ("DELETE", "/api/v3/userDataStream"): Route(KEYED, self.close_listen_key),
        }

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", "/api/{tail:.*}", self.dispatch)]

    # --------------------------------------------------------------- pipeline
    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path, method = request.path, request.method
        self.calls[f"{method} {path}"] += 1
        take = self.faults.take
        lat = take(FaultKind.LATENCY, path=path, method=method)
        if lat is not None:
            await asyncio.sleep(self.faults.delay_s(lat))
        spec = take(FaultKind.TIMEOUT_BEFORE_ACCEPT, path=path, method=method)
        if spec is not None:
            return await self._no_reply(request, spec)
        early = self._injected_error(path, method)
        if early is not None:
            return early
        query = request.rel_url.raw_query_string
        body = await request.text() if request.can_read_body else ""
        params = dict(parse_qsl(query, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        now = self.server_ms()
        try:
            used = self.weights.charge(weight_of(method, path, params), now)
        except errors.ApiError as exc:
            return self._error(exc, retry_after=self.weights.retry_after_s(now))
        route = self.table.get((method, path))
        try:
            if route is None:
                raise errors.ApiError(404, -1020, "This operation is not supported.")
            api_key = None
            if route.security == KEYED:
                signing.check_key(request.headers, self.api_keys)
                api_key = request.headers["X-MBX-APIKEY"]
            elif route.security == SIGNED:
                api_key = signing.verify(
                    query=query, body=body, params=params, headers=request.headers,
                    keys=self.api_keys, server_ms=now,
                )  # fmt: skip
            if route.fn in (self.new_order, self.new_oco):
                self._orders_sent.append(now)
            try:
                result = route.fn(params, api_key)
            except (ValueError, ArithmeticError):  # int("abc"), bad JSON in symbols=...
                raise errors.ApiError(
                    400, -1100, "Illegal characters found in a parameter."
                ) from None
        except errors.ApiError as exc:
            return self._counted(self._error(exc, used=used), method, path, now)
        finally:
            self.after_change()
        spec = take(FaultKind.TIMEOUT_AFTER_ACCEPT, path=path, method=method)
        if spec is not None:
            return await self._no_reply(request, spec)
        spec = take(FaultKind.SCHEMA_DRIFT, path=path, method=method)
        if spec is not None:
            result = drift(result, spec)
        return self._counted(self._json(result, used=used), method, path, now)

    def _counted(self, resp: web.Response, method: str, path: str, now: int) -> web.Response:
        """Binance's order-count headers on order placement replies."""
        if (method, path) == ("POST", "/api/v3/order"):
            day = now - now % 86_400_000
            sent = self._orders_sent
            while sent and sent[0] < day:
                sent.popleft()
            resp.headers["X-MBX-ORDER-COUNT-10S"] = str(sum(1 for t in sent if t > now - 10_000))
            resp.headers["X-MBX-ORDER-COUNT-1D"] = str(len(sent))
        return resp

    def _injected_error(self, path: str, method: str) -> web.Response | None:
        take = self.faults.take
        spec = take(FaultKind.BAN, path=path, method=method)
        if spec is not None:  # a ban, like a real one, outlasts the request that drew it
            self.weights.ban(self.server_ms(), seconds=spec.retry_after_s)
            return self._error(
                errors.banned(self.weights.banned_until_ms), retry_after=spec.retry_after_s
            )
        spec = take(FaultKind.RATE_LIMIT, path=path, method=method)
        if spec is not None:
            return self._error(
                errors.too_much_weight(self.weights.limit), retry_after=spec.retry_after_s
            )
        spec = take(FaultKind.API_ERROR, path=path, method=method)
        if spec is not None:
            return self._error(errors.ApiError(spec.status, spec.code, spec.msg))
        spec = take(FaultKind.HTTP_ERROR, path=path, method=method)
        if spec is not None:  # what a load balancer says: HTML, not Binance JSON
            text = f"<html><body><h1>{spec.status} Service Unavailable</h1></body></html>"
            return web.Response(status=spec.status, text=text, content_type="text/html")
        return None

    async def _no_reply(self, request: web.Request, spec: FaultSpec) -> web.StreamResponse:
        """Never answer: stay silent for ``hang_s`` (or not at all), then drop the socket."""
        if spec.mode == "hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), spec.hang_s)
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError  # nothing may be written on a dropped socket

    def _json(self, value: Any, *, used: int, status: int = 200) -> web.Response:
        return web.Response(
            status=status,
            body=orjson.dumps(value),
            content_type="application/json",
            headers={"X-MBX-USED-WEIGHT-1M": str(used), "X-MBX-USED-WEIGHT": str(used)},
        )

    def _error(
        self, exc: errors.ApiError, *, used: int | None = None, retry_after: int | None = None
    ) -> web.Response:
        resp = self._json(
            exc.body(), used=used or self.weights.used(self.server_ms()), status=exc.status
        )
        if retry_after is not None:
            resp.headers["Retry-After"] = str(retry_after)
        return resp

    # ---------------------------------------------------------- market data
    def _symbol(self, p: Params) -> str:
        sym = p.get("symbol", "").upper()
        if not sym:
            raise errors.missing_param("symbol")
        if sym not in self.exchange.instruments:
            raise errors.bad_symbol()
        return sym

    def _symbols(self, p: Params) -> list[str]:
        if "symbol" in p:
            return [self._symbol(p)]
        if "symbols" in p:
            names = [str(s).upper() for s in orjson.loads(p["symbols"])]
            if any(s not in self.exchange.instruments for s in names):
                raise errors.bad_symbol()
            return names
        return list(self.exchange.instruments)

    def exchange_info(self, p: Params, _: str | None) -> Any:
        insts = [self.exchange.instruments[s] for s in self._symbols(p)]
        return fmt.exchange_info(
            insts, self.server_ms(), self.weights.limit, self.exchange.max_num_orders
        )

    def depth(self, p: Params, _: str | None) -> Any:
        sym = self._symbol(p)
        limit = min(int(p.get("limit") or 100), 5000)
        m = self.market.get(sym)
        return m.depth(limit) if m else {"lastUpdateId": 0, "bids": [], "asks": []}

    def _each(self, p: Params, fn: Callable[[str], Any]) -> Any:
        rows = [fn(s) for s in self._symbols(p)]
        return rows[0] if "symbol" in p else rows

    def book_ticker(self, p: Params, _: str | None) -> Any:
        return self._each(p, lambda s: self.market.symbol_market(s).book_ticker())

    def ticker_24h(self, p: Params, _: str | None) -> Any:
        now = self.server_ms()
        return self._each(p, lambda s: self.market.symbol_market(s).ticker_24h(now))

    def ticker_price(self, p: Params, _: str | None) -> Any:
        def one(s: str) -> Any:
            t = self.market.symbol_market(s).trades
            return {"symbol": s, "price": fmt.fmt(t[-1][1] if t else None)}

        return self._each(p, one)

    def avg_price(self, p: Params, _: str | None) -> Any:
        sym, now = self._symbol(p), self.server_ms()
        avg = self.exchange.avg_price(sym, now)
        return {"mins": fmt.AVG_PRICE_MINS, "price": fmt.fmt(avg), "closeTime": now}

    def klines(self, p: Params, _: str | None) -> Any:
        sym = self._symbol(p)
        interval = INTERVALS_MS.get(p.get("interval", ""))
        if interval is None:
            raise errors.bad_interval()
        limit = min(int(p.get("limit") or 500), 1000)
        start = int(p["startTime"]) if p.get("startTime") else None
        end = int(p["endTime"]) if p.get("endTime") else None
        live = self.market.symbol_market(sym)
        past = self.history.rows(sym, interval, start, end, limit)
        if past is None:
            return live.kline_rows(interval, start, end, limit)
        after = (self.history.last_ts(sym, interval) or 0) + 1  # live klines follow the history
        rows = past + live.kline_rows(interval, max(after, start or 0), end, limit)
        return rows[:limit] if start is not None else rows[-limit:]

    def trades(self, p: Params, _: str | None) -> Any:
        sym = self._symbol(p)
        return self.market.symbol_market(sym).recent_trades(min(int(p.get("limit") or 500), 1000))

    def agg_trades(self, p: Params, _: str | None) -> Any:
        sym = self._symbol(p)
        limit = min(int(p.get("limit") or 500), 1000)
        start, end, from_id = (
            int(p[k]) if p.get(k) else None for k in ("startTime", "endTime", "fromId")
        )
        return self.market.symbol_market(sym).agg_trades(start, end, from_id, limit)

    # ------------------------------------------------------------- trading
    def new_order(self, p: Params, _: str | None) -> Any:
        rec, fills, resp = self.exchange.place(p, self.server_ms())
        if resp == "ACK":
            return fmt.order_ack(rec)
        if resp == "RESULT":
            return fmt.order_result(rec)
        return fmt.order_full(rec, fills)

    def new_oco(self, p: Params, _: str | None) -> Any:
        now = self.server_ms()
        lst, recs, resp = self.exchange.place_oco(p, now)
        return fmt.order_list(lst, recs, resp, now)

    def cancel_list(self, p: Params, _: str | None) -> Any:
        now = self.server_ms()
        lst, recs = self.exchange.contingent.cancel_list(p, now)
        return fmt.order_list_canceled(lst, recs, now)

    def get_list(self, p: Params, _: str | None) -> Any:
        lst = self.exchange.contingent.find_list(p)
        return fmt.order_list_query(lst, [self.exchange.records[i] for i in lst.order_ids])

    def open_lists(self, p: Params, _: str | None) -> Any:
        recs = self.exchange.records
        return [
            fmt.order_list_query(lst, [recs[i] for i in lst.order_ids])
            for lst in self.exchange.contingent.lists.values()
            if not lst.done
        ]

    def get_order(self, p: Params, _: str | None) -> Any:
        return fmt.order_query(self.exchange.query(p))

    def cancel_order(self, p: Params, _: str | None) -> Any:
        return fmt.order_canceled(self.exchange.cancel(p, self.server_ms()))

    def open_orders(self, p: Params, _: str | None) -> Any:
        sym = p.get("symbol", "").upper() or None
        return [fmt.order_query(r) for r in self.exchange.open_orders(sym)]

    def cancel_all(self, p: Params, _: str | None) -> Any:
        sym = self._symbol(p)
        out = []
        for rec in self.exchange.open_orders(sym):
            if not rec.is_open:  # ended with its OCO's other leg
                continue
            done = self.exchange.cancel(
                {"symbol": sym, "orderId": str(rec.order_id)}, self.server_ms()
            )
            out.append(fmt.order_canceled(done))
        return out

    def all_orders(self, p: Params, _: str | None) -> Any:
        return [fmt.order_query(r) for r in self.exchange.all_orders(p)]

    def my_trades(self, p: Params, _: str | None) -> Any:
        return [fmt.my_trade(f) for f in self.exchange.my_trades(p)]

    def account(self, p: Params, _: str | None) -> Any:
        fee_bps = 10
        insts = list(self.exchange.instruments.values())
        if insts:
            fee_bps = int(insts[0].taker_fee * 10_000)
        return fmt.account(self.exchange.balances(), self.server_ms(), fee_bps)

    def new_listen_key(self, p: Params, api_key: str | None) -> Any:
        assert api_key is not None
        return {"listenKey": self.listen_keys.create(api_key)}

    def keep_listen_key(self, p: Params, _: str | None) -> Any:
        if not self.listen_keys.valid(p.get("listenKey", "")):
            raise errors.unknown_listen_key()
        return {}

    def close_listen_key(self, p: Params, _: str | None) -> Any:
        self.listen_keys.close(p.get("listenKey", ""))
        return {}

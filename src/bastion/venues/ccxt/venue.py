"""The venue port over ccxt: any ccxt exchange id, REST plus private streams.

The decision cycle is synchronous; ccxt is asyncio. The venue owns one event
loop on its own thread and every port method hands a coroutine to it and
waits, inside a timeout, for the answer. The cycle therefore never blocks the
shell's loop, and the shell never sees a half-finished exchange call.

Safety settings that are not negotiable: ccxt's own request retry is off
(``maxRetriesOnFailure = 0``: it would re-send ``createOrder`` on a network
error); every order carries our client id; every answer we rely on is
schema-checked, and drift stops new exposure (``schema_drift``) until an
operator looks. Keys come from the environment, never from files, and never
appear in messages.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import inspect
import queue
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar

import ccxt
import ccxt.pro as ccxtpro

from bastion.clock import wall_ms
from bastion.model import (
    AccountSnapshot,
    Balance,
    Fill,
    Instrument,
    OrderReport,
    OrderRequest,
    Position,
    StopKind,
    TimeInForce,
)
from bastion.model.money import to_decimal
from bastion.venues.calls import CallLog, used_weight
from bastion.venues.capabilities import OCO, STOP_LIMIT, capabilities
from bastion.venues.ccxt.client import Credentials, make_exchange, rewrite_urls
from bastion.venues.ccxt.convert import market_instrument, order_report, trade_fill
from bastion.venues.ccxt.errors import translate
from bastion.venues.ccxt.lists import oco_params
from bastion.venues.ccxt.schema import (
    TRADE,
    check,
    check_balance,
    check_market,
    check_raw_balance,
)
from bastion.venues.errors import BadSymbol, InvalidOrder, SchemaDrift, VenueError, VenueTimeout
from bastion.venues.port import FillReceived, OrderUpdated, VenueEvent

T = TypeVar("T")
# Venue ids, client ids and fills remembered for late stream messages: the
# newest this many (a late message is seconds old; months of orders are not kept).
REMEMBERED = 10_000
Sink = Callable[[str, int, dict[str, Any]], None]


# ccxt.pro keeps the newest 1,000 orders and 1,000 own trades from the private
# streams (each with its raw message) though the venue reads every update as it
# comes and the order store keeps them all: a few MB that fill for as long as a
# bot takes to make a thousand orders (issue 17's soak: most of its first
# half-hour). Two hundred of each is ample between two reads; an update lost to
# a full cache would still be read back from REST by the next reconcile.
STREAM_CACHES = {"ordersLimit": 200, "tradesLimit": 200}


class CcxtVenue:
    """Implements ``bastion.venues.Venue`` for a ccxt exchange."""

    def __init__(
        self,
        exchange_id: str,
        symbols: Sequence[str],
        *,
        credentials: Credentials | None,
        base_url: str | None = None,
        ws_url: str | None = None,
        sandbox: bool = False,
        call_timeout_s: float = 10.0,
        rate_limit: bool = True,
        private_stream: bool = True,
        sink: Sink | None = None,
        options: Mapping[str, Any] | None = None,
        snapshot_every_s: float = 30.0,
    ) -> None:
        if not hasattr(ccxtpro, exchange_id) and not hasattr(ccxt.async_support, exchange_id):
            raise ValueError(f"unknown ccxt exchange id {exchange_id!r}")
        self.exchange_id = exchange_id
        self.caps = capabilities(exchange_id)
        self.symbols = tuple(symbols)
        self._credentials = credentials
        self._base_url = base_url
        self._ws_url = ws_url
        self._sandbox = sandbox
        self.call_timeout_s = call_timeout_s
        self._rate_limit = rate_limit
        # No private stream in the table: the venue polls (the reconciler's snapshots).
        self._want_stream = private_stream and self.caps.private_stream
        self._sink = sink or (lambda kind, ts, payload: None)
        self._options = dict(options or {})
        self._events: queue.SimpleQueue[VenueEvent] = queue.SimpleQueue()
        self._cid_by_vid: dict[str, str] = {}
        self._instruments: dict[str, Instrument] = {}
        self.schema_drift: str | None = None  # set once; cleared only by an operator restart
        self.stream_errors = 0
        self.snapshot_every_s = snapshot_every_s
        self._changes = 0  # bumped whenever the account may have changed (see ``version``)
        # Told (on the venue's thread) whenever ``version`` moves: the live loop
        # re-reads the account between decisions instead of inside one.
        self.on_change: Callable[[], None] | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="bastion-venue", daemon=True
        )
        self._ex: Any = None
        self._watchers: list[asyncio.Future[None]] = []
        self._emitted: set[tuple[str, str]] = set()  # fills already handed out as events
        self._emitted_order: collections.deque[tuple[str, str]] = collections.deque()
        self._final: dict[str, None] = {}  # venue ids of orders known to be over (ordered)
        self.calls = CallLog()  # latency, errors, weight: drained into the journal per cycle

    # ------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Connect, load markets (schema-checked) and start the private streams."""
        self._thread.start()
        self._run(self._open(), "load_markets")

    def close(self) -> None:
        if self._ex is not None and self._thread.is_alive():
            with contextlib.suppress(VenueError):
                self._run(self._shutdown(), "close")
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    async def _open(self) -> None:
        ex = make_exchange(
            self.exchange_id,
            credentials=self._credentials,
            base_url=self._base_url,
            ws_url=self._ws_url,
            sandbox=self._sandbox,
            rate_limit=self._rate_limit,
            timeout_ms=int(self.call_timeout_s * 1000),
            options={"warnOnFetchOpenOrdersWithoutSymbol": False, **STREAM_CACHES, **self._options},
        )
        self._ex = ex
        markets = await ex.load_markets()
        for sym in self.symbols:
            market = markets.get(sym)
            if market is None:
                raise BadSymbol(f"{self.exchange_id} has no market {sym}")
            check_market(market)
            self._instruments[sym] = market_instrument(market)
        if self._want_stream and self._credentials is not None and ex.has.get("watchOrders"):
            await self._stream_ready(ex)
            self._watchers.append(asyncio.ensure_future(self._watch("orders")))
            if ex.has.get("watchMyTrades"):
                self._watchers.append(asyncio.ensure_future(self._watch("trades")))

    async def _stream_ready(self, ex: Any) -> None:
        """Subscribe the private stream before ``start`` returns: an order sent
        before the subscription lands would have its updates and fills missed by
        the stream (reconciliation would find them later, a refresh too late).
        A stream that cannot subscribe is reported; the watchers keep trying."""
        authenticate = getattr(ex, "authenticate", None)
        if authenticate is None or not _callable_bare(authenticate):
            return  # not unified in ccxt: some exchanges' versions need a URL
        try:
            async with asyncio.timeout(self.call_timeout_s):
                await authenticate()
        except Exception as exc:
            self.stream_errors += 1
            self._sink(
                "stream_error", wall_ms(), {"stream": "subscribe", "error": type(exc).__name__}
            )

    async def _shutdown(self) -> None:
        for w in self._watchers:
            w.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        await self._ex.close()

    @property
    def version(self) -> tuple[int, int]:
        """Changes whenever the account may have changed: an order call answered
        (or failed: it may have landed), a private-stream update arrived, or
        ``snapshot_every_s`` passed. The reconciler re-reads the account exactly
        when this changes, so a decision never sees a position from before a
        fill it has already been told about (a target-position strategy would
        otherwise buy its target again on every bar until the next refresh),
        and a quiet account is still re-read on schedule."""
        return self._changes, int(time.monotonic() / self.snapshot_every_s)

    def set_sink(self, sink: Sink) -> None:
        """Where the venue reports stream errors and schema drift from now on (the
        session's journal, which exists only after the venue has started)."""
        self._sink = sink

    # -------------------------------------------------------------- the port
    def instruments(self) -> Mapping[str, Instrument]:
        return MappingProxyType(self._instruments)

    def submit(self, request: OrderRequest) -> OrderReport:
        return self._run(self._submit(request), "create_order")

    async def _submit(self, r: OrderRequest) -> OrderReport:
        params: dict[str, Any] = {self.caps.client_id_param: r.client_id}
        if r.stop_price is not None:
            if STOP_LIMIT not in self.caps.order_types or r.price is None:
                raise InvalidOrder(f"{self.exchange_id} takes no stop-limit order {r.client_id}")
            name = "stopLossPrice" if r.stop_kind is StopKind.STOP_LOSS else "takeProfitPrice"
            params[name] = float(r.stop_price)
        if r.tif is TimeInForce.POST_ONLY:
            params["postOnly"] = True
        elif r.tif is TimeInForce.IOC:
            params["timeInForce"] = "IOC"
        order = await self._ex.create_order(
            r.symbol,
            r.type.value,
            r.side.value,
            float(r.qty),
            None if r.price is None else float(r.price),
            params,
        )
        report = self._noted(self._report(order))
        self._fills_in_reply(order, report.client_id)
        return report

    def cancel(self, symbol: str, client_id: str) -> OrderReport:
        return self._run(self._cancel(symbol, client_id), "cancel_order")

    async def _cancel(self, symbol: str, client_id: str) -> OrderReport:
        if self.caps.lookup == "param":
            params = {self.caps.lookup_param: client_id}
            order = await self._ex.cancel_order(None, symbol, params)
        else:  # no cancel by client id: find the exchange's id first
            found = await self._scan(symbol, client_id)
            if found is None or found.status.terminal:
                raise ccxt.OrderNotFound(f"no open order {client_id} on {symbol}")
            await self._ex.cancel_order(found.venue_order_id, symbol)
            # the reply names the order and nothing else: read what it became
            order = await self._ex.fetch_order(found.venue_order_id, symbol)
        return self._noted(self._report(order, client_id))

    def submit_oco(self, take_profit: OrderRequest, stop: OrderRequest) -> list[OrderReport]:
        """Both legs in one call (one quantity shared); reports in (take-profit, stop) order."""
        return self._run(self._submit_oco(take_profit, stop), "create_order")

    async def _submit_oco(self, take_profit: OrderRequest, stop: OrderRequest) -> list[OrderReport]:
        if OCO not in self.caps.order_types:
            raise InvalidOrder(f"{self.exchange_id} takes no OCO order {take_profit.client_id}")
        market = self._ex.market(take_profit.symbol)
        reply = await self._ex.private_post_orderlist_oco(oco_params(self._ex, take_profit, stop))
        reports = {}
        for raw in reply.get("orderReports") or ():
            report = self._noted(self._report(self._ex.parse_order(raw, market)))
            reports[report.client_id] = report
        try:
            return [reports[take_profit.client_id], reports[stop.client_id]]
        except KeyError:
            raise SchemaDrift("OCO reply lacks a report for one of its legs") from None

    async def _scan(self, symbol: str, client_id: str) -> OrderReport | None:
        """The documented fallback where an exchange cannot fetch by client id:
        its open orders, then its recent ones (``history_days`` deep)."""
        history = self._ex.fetch_orders if self._ex.has.get("fetchOrders") else None
        for fetch in (self._ex.fetch_open_orders, history or self._ex.fetch_closed_orders):
            for o in await fetch(symbol):
                if str(o.get("clientOrderId") or "") == client_id:
                    return self._report(o, client_id)
        return None

    def fetch_order(self, symbol: str, client_id: str) -> OrderReport | None:
        return self._run(self._fetch_order(symbol, client_id), "fetch_order")

    async def _fetch_order(self, symbol: str, client_id: str) -> OrderReport | None:
        if self.caps.lookup != "param":
            found = await self._scan(symbol, client_id)
            return None if found is None else self._noted(found)
        try:
            params = {self.caps.lookup_param: client_id}
            order = await self._ex.fetch_order(None, symbol, params)
        except ccxt.OrderNotFound:
            return None
        return self._noted(self._report(order, client_id))

    def fetch_open_orders(self, symbol: str | None = None) -> Sequence[OrderReport]:
        return self._run(self._open_orders(symbol), "fetch_open_orders")

    async def _open_orders(self, symbol: str | None) -> list[OrderReport]:
        out: list[OrderReport] = []
        for sym in (symbol,) if symbol else self.symbols:
            out.extend(self._report(o) for o in await self._ex.fetch_open_orders(sym))
        return out

    def fetch_fills(self, since_ts: int = 0, symbol: str | None = None) -> Sequence[Fill]:
        return self._run(self._fills(since_ts, symbol), "fetch_my_trades")

    async def _fills(self, since_ts: int, symbol: str | None) -> list[Fill]:
        out: list[Fill] = []
        for sym in (symbol,) if symbol else self.symbols:
            since = (since_ts or None) if self.caps.trades_since else None
            for t in await self._ex.fetch_my_trades(sym, since):
                if since_ts and int(t.get("timestamp") or 0) < since_ts:
                    continue
                fill = await self._fill(t)
                if fill is not None:
                    out.append(fill)
        return out

    def fetch_account(self) -> AccountSnapshot:
        return self._run(self._account(), "fetch_balance")

    async def _account(self) -> AccountSnapshot:
        raw = await self._ex.fetch_balance()
        check_raw_balance(self.exchange_id, raw)
        check_balance(raw)
        balances = {
            asset: Balance(
                asset=asset,
                free=to_decimal(raw["free"].get(asset) or 0),
                locked=to_decimal(raw["used"].get(asset) or 0),
            )
            for asset in raw["total"]
            if raw["total"].get(asset)
        }
        positions: dict[str, Position] = {}
        for sym, inst in self._instruments.items():
            bal = balances.get(inst.base)
            if bal is not None and bal.total:
                positions[sym] = Position(symbol=sym, qty=bal.total)
        orders = await self._open_orders(None)
        quote = next(iter(self._instruments.values())).quote if self._instruments else "USDT"
        return AccountSnapshot(
            ts=int(self._ex.milliseconds()),
            quote_asset=quote,
            balances=MappingProxyType(balances),
            positions=MappingProxyType(positions),
            open_orders=tuple(orders),
        )

    def drain_events(self) -> Sequence[VenueEvent]:
        out: list[VenueEvent] = []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                return out

    # ------------------------------------------------------------- streams
    async def _watch(self, what: str) -> None:
        """Private stream loop: every update becomes an event; errors back off."""
        delay = 1.0
        while True:
            try:
                if what == "orders":
                    for o in await self._ex.watch_orders():
                        report = self._report(o)
                        if report.venue_order_id in self._final and not report.status.terminal:
                            continue  # the stream's "new" after the reply said "filled"
                        self._events.put(OrderUpdated(self._noted(report)))
                        self._changed()
                else:
                    for t in await self._ex.watch_my_trades():
                        fill = await self._fill(t)
                        if fill is not None:
                            self._emit_fill(fill)
                delay = 1.0
            except asyncio.CancelledError:
                raise
            except SchemaDrift as exc:
                self._drift(str(exc))
            except Exception as exc:  # the stream dropped: log, back off, resubscribe
                self.stream_errors += 1
                self._sink("stream_error", wall_ms(), {"stream": what, "error": type(exc).__name__})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    # ------------------------------------------------------------- helpers
    def _run(self, coro: Coroutine[Any, Any, T], what: str) -> T:
        started = time.perf_counter()
        error: str | None = None
        try:
            return self._call(coro, what)
        except VenueError as exc:
            error = type(exc).__name__
            raise
        finally:
            headers = getattr(self._ex, "last_response_headers", None)
            self.calls.note(time.perf_counter() - started, error, used_weight(headers))

    def _call(self, coro: Coroutine[Any, Any, T], what: str) -> T:
        if not self._thread.is_alive():
            coro.close()
            raise VenueTimeout(f"{self.exchange_id} {what}: the venue is not started")
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        if what in ("create_order", "cancel_order"):
            fut.add_done_callback(self._changed)  # answered or not, it may have acted
        try:
            return fut.result(timeout=self.call_timeout_s + 2)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise VenueTimeout(
                f"{self.exchange_id} {what}: no answer in {self.call_timeout_s}s"
            ) from None
        except SchemaDrift as exc:
            self._drift(str(exc))
            raise
        except Exception as exc:
            raise translate(exc, self._retry_after()) from exc

    def _changed(self, *_: Any) -> None:
        self._changes += 1
        if self.on_change is not None:
            self.on_change()

    def _retry_after(self) -> float | None:
        headers = getattr(self._ex, "last_response_headers", None) or {}
        value = headers.get("Retry-After") or headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    def _drift(self, what: str) -> None:
        if self.schema_drift is None:
            self.schema_drift = what
            self._sink(
                "schema_drift",
                wall_ms(),
                {"venue": self.exchange_id, "what": what, "alert": True},
            )

    def _report(self, o: Any, client_id: str | None = None) -> OrderReport:
        report = order_report(o, client_id)
        self._cid_by_vid[report.venue_order_id] = report.client_id
        if len(self._cid_by_vid) > REMEMBERED:  # a bot runs for months: the newest only
            del self._cid_by_vid[next(iter(self._cid_by_vid))]
        return report

    def _fills_in_reply(self, o: Any, client_id: str) -> None:
        """The fills an order reply carries (Binance's FULL reply lists them) become
        events at once: an order reported filled whose fills wait for the user
        stream would leave the reconciler a position no fill explains yet.
        The reply's trades lack what the order says (order, side, time); a fill
        on placement is always the taker's."""
        for t in o.get("trades") or ():
            if not isinstance(t, dict) or t.get("id") is None:
                continue
            trade = {
                **t,
                "order": t.get("order") or o["id"],
                "symbol": t.get("symbol") or o["symbol"],
                "side": t.get("side") or o["side"],
                "timestamp": t.get("timestamp") or o.get("lastTradeTimestamp") or o["timestamp"],
                "takerOrMaker": t.get("takerOrMaker") or "taker",
            }
            self._emit_fill(self._to_fill(trade, client_id))

    def _noted(self, report: OrderReport) -> OrderReport:
        """Remember orders known to be over: the user stream often tells of an
        order's start after the reply has told of its end, and a stale "open"
        after "filled" is noise for the order manager to sort out."""
        if report.status.terminal and report.venue_order_id:
            self._final[report.venue_order_id] = None
            if len(self._final) > REMEMBERED:
                del self._final[next(iter(self._final))]
        return report

    def _emit_fill(self, fill: Fill) -> None:
        """Each execution once, whether the reply or the stream told us first."""
        key = (fill.symbol, fill.trade_id)
        if key in self._emitted:
            return
        self._emitted.add(key)
        self._emitted_order.append(key)
        if len(self._emitted_order) > REMEMBERED:
            self._emitted.discard(self._emitted_order.popleft())
        self._events.put(FillReceived(fill))
        self._changed()

    async def _fill(self, t: Any) -> Fill | None:
        check("trade", t, TRADE)
        vid = str(t["order"])
        cid = self._cid_by_vid.get(vid)
        if cid is None:
            try:
                order = await self._ex.fetch_order(vid, t["symbol"])
                cid = self._report(order).client_id
            except ccxt.BaseError:
                cid = ""
        return self._to_fill(t, cid)

    def _to_fill(self, t: Any, cid: str) -> Fill:
        return trade_fill(t, cid)


def _callable_bare(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` can be called with no arguments."""
    try:
        inspect.signature(fn).bind()
    except (TypeError, ValueError):
        return False
    return True


__all__ = ["CcxtVenue", "Credentials", "rewrite_urls"]

"""The exchange's order desk: Binance order semantics over bastion's matching engine.

``Exchange`` is sans-I/O. It parses Binance order parameters, applies the
symbol filters and Binance's refusals (with Binance's exact codes and
messages), hands accepted orders to ``SimVenue`` (the one matching engine),
and turns the venue's events into Binance records and user-stream messages
(``executionReport``, ``outboundAccountPosition``) queued in ``outbox``.
Every order request is logged in ``received``, accepted or not.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from bastion.emulator import binance_format as fmt
from bastion.emulator import errors
from bastion.emulator.contingent import STOP_TYPES
from bastion.emulator.contingent_desk import ContingentDesk
from bastion.emulator.market import QuoteEvent, TradeEvent
from bastion.emulator.params import optional_int, positive_decimal, required
from bastion.emulator.prices import PriceBook
from bastion.emulator.records import FillRecord, OrderList, OrderRecord, ReceivedOrder
from bastion.model import (
    Balance,
    Instrument,
    Liquidity,
    OrderReport,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    StrategyRef,
    TimeInForce,
)
from bastion.model.money import ZERO
from bastion.venues import errors as venue_errors
from bastion.venues.port import FillReceived, OrderUpdated
from bastion.venues.sim import SimVenue

_CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_STATUS = {
    OrderStatus.OPEN: "NEW",
    OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.CANCELLED: "CANCELED",
    OrderStatus.EXPIRED: "EXPIRED",
    OrderStatus.REJECTED: "REJECTED",
}
_EXTERNAL = StrategyRef(id="emulator", version="0")
_Row = TypeVar("_Row", OrderRecord, FillRecord)


@dataclass(frozen=True, slots=True)
class NewOrder:
    side: Side
    type_name: str  # Binance's: MARKET, LIMIT, LIMIT_MAKER
    type: OrderType
    resp_type: str  # ACK, RESULT, FULL
    qty: Decimal
    price: Decimal | None = None
    tif: TimeInForce = TimeInForce.IOC  # market orders take what they can, never rest
    tif_name: str | None = None
    quote_qty: Decimal = ZERO
    stop_price: Decimal | None = None  # STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT


class Exchange:
    """Binance's order endpoints, backed by a ``SimVenue``."""

    def __init__(self, venue: SimVenue, *, max_num_orders: int = fmt.MAX_NUM_ORDERS) -> None:
        self.venue = venue
        self.max_num_orders = max_num_orders
        self.instruments = {fmt.exchange_symbol(s): i for s, i in venue.instruments().items()}
        self.records: dict[int, OrderRecord] = {}
        self._by_venue: dict[str, OrderRecord] = {}
        self._by_client: dict[str, OrderRecord] = {}  # latest order per client id
        self.fills: list[FillRecord] = []
        self.received: list[ReceivedOrder] = []
        self.outbox: list[fmt.Json] = []  # user-stream events not yet sent
        self.prices = PriceBook()
        self._next_order = 1
        self._next_trade = 1
        self.contingent = ContingentDesk(self)

    # ---------------------------------------------------------------- market
    def on_trade(self, ev: TradeEvent, now_ms: int) -> None:
        self.prices.on_trade(ev.symbol, ev.price, ev.qty, now_ms)
        inst = self.instruments.get(ev.symbol)
        if inst is not None:
            self.venue.on_trade(inst.symbol, ev.ts, float(ev.price), float(ev.qty))
            self.sync(now_ms)
            self.contingent.trigger(ev.symbol, ev.price, now_ms)

    def on_quote(self, ev: QuoteEvent, now_ms: int) -> None:
        inst = self.instruments.get(ev.symbol)
        if inst is None or not ev.matches:
            return
        self.prices.on_quote(ev.symbol, ev.bid, ev.ask)
        self.venue.on_quote(
            inst.symbol, ev.ts, float(ev.bid), float(ev.ask), float(ev.bid_qty), float(ev.ask_qty)
        )
        self.sync(now_ms)

    # ---------------------------------------------------------------- orders
    def place(self, p: Mapping[str, str], now_ms: int) -> tuple[OrderRecord, list[FillRecord], str]:
        """POST /api/v3/order: the new record, its immediate fills, the reply type."""
        client_id = p.get("newClientOrderId") or "x-" + secrets.token_hex(10)
        try:
            rec, fills, resp = self._place(p, client_id, now_ms)
        except errors.ApiError as exc:
            self._log(p, client_id, now_ms, str(exc.code), None)
            raise
        self._log(p, client_id, now_ms, "accepted", rec.order_id)
        return rec, fills, resp

    def place_oco(
        self, p: Mapping[str, str], now_ms: int
    ) -> tuple[OrderList, list[OrderRecord], str]:
        """POST /api/v3/orderList/oco, each accepted leg logged as ``place`` logs an order."""
        try:
            lst, recs, resp = self.contingent.place_oco(p, now_ms)
        except errors.ApiError as exc:
            self._log(p, p.get("listClientOrderId", ""), now_ms, str(exc.code), None)
            raise
        for rec in recs:
            leg = {**p, "type": rec.type_name, "price": fmt.fmt(rec.price)}
            self._log(leg, rec.client_id, now_ms, "accepted", rec.order_id)
        return lst, recs, resp

    def _place(
        self, p: Mapping[str, str], client_id: str, now_ms: int
    ) -> tuple[OrderRecord, list[FillRecord], str]:
        inst = self.instrument(p)
        sym = fmt.exchange_symbol(inst.symbol)
        if not _CLIENT_ID.match(client_id):
            raise errors.bad_param("newClientOrderId")
        order = self._parse(p, inst, sym)
        self.check_filters(inst, sym, order, now_ms)
        if self.client_id_open(client_id):
            raise errors.duplicate_order()
        if order.stop_price is not None:
            self.contingent.check_stop(sym, order.type_name, order.side, order.stop_price)
            held = self.contingent.hold(inst, order.side, order.qty, order.price)
            rec = self.record(client_id, inst, order, now_ms, venue_id="")
            self.contingent.holds[rec.order_id] = held
            self.announce(rec, now_ms)
            return rec, [], order.resp_type
        report = self.submit(client_id, inst, order.side, order.qty, order)
        rec = self.record(client_id, inst, order, now_ms, venue_id=report.venue_order_id)
        self.sync(now_ms)
        return rec, list(rec.fills), order.resp_type

    def submit(
        self, client_id: str, inst: Instrument, side: Side, qty: Decimal, order: NewOrder
    ) -> OrderReport:
        """Hand an order to the matching engine; its refusals in Binance's words."""
        request = OrderRequest(
            client_id=client_id, strategy=_EXTERNAL, symbol=inst.symbol, side=side, qty=qty,
            type=order.type, price=order.price, tif=order.tif,
        )  # fmt: skip
        try:
            return self.venue.submit(request)
        except venue_errors.InsufficientFunds:
            raise errors.insufficient_balance() from None
        except venue_errors.DuplicateClientId:
            raise errors.duplicate_order() from None
        except venue_errors.BadSymbol:
            raise errors.bad_symbol() from None
        except venue_errors.InvalidOrder as exc:
            raise errors.ApiError(400, -2010, str(exc)) from None

    def on_book(self, rec: OrderRecord, venue_id: str, now_ms: int) -> None:
        """A triggered stop reached the matching engine under ``venue_id``."""
        rec.venue_id = venue_id
        rec.working_ms = now_ms
        self._by_venue[venue_id] = rec

    def client_id_open(self, client_id: str) -> bool:
        prev = self._by_client.get(client_id)
        return prev is not None and prev.is_open

    def last_price(self, sym: str) -> Decimal | None:
        return self.prices.last(sym)

    def record(
        self, client_id: str, inst: Instrument, order: NewOrder, now_ms: int, *, venue_id: str
    ) -> OrderRecord:
        """Number and remember an accepted order; a stop is not working until it triggers."""
        rec = OrderRecord(
            order_id=self._next_order, client_id=client_id, symbol=fmt.exchange_symbol(inst.symbol),
            unified=inst.symbol, venue_id=venue_id, side=order.side, type_name=order.type_name,
            tif_name=order.tif_name, qty=order.qty, price=order.price, created_ms=now_ms,
            updated_ms=now_ms, orig_quote_qty=order.quote_qty, stop_price=order.stop_price,
            working_ms=None if order.stop_price is not None else now_ms,
        )  # fmt: skip
        self._next_order += 1
        self.records[rec.order_id] = rec
        if venue_id:
            self._by_venue[venue_id] = rec
        self._by_client[client_id] = rec
        return rec

    def announce(self, rec: OrderRecord, now_ms: int) -> None:
        """The NEW report of an order the matching engine has not seen (a stop)."""
        rec.announced = True
        self.outbox.append(fmt.execution_report(rec, "NEW", now_ms))

    def _parse(self, p: Mapping[str, str], inst: Instrument, sym: str) -> NewOrder:
        """The order a request describes, or Binance's refusal of its parameters."""
        side = {"BUY": Side.BUY, "SELL": Side.SELL}.get(required(p, "side").upper())
        if side is None:
            raise errors.bad_side()
        type_name = required(p, "type").upper()
        resp = p.get("newOrderRespType", "FULL" if type_name in ("MARKET", "LIMIT") else "ACK")
        if resp not in ("ACK", "RESULT", "FULL"):
            raise errors.bad_param("newOrderRespType")
        if type_name == "MARKET":
            if "quoteOrderQty" in p and "quantity" not in p:
                quote_qty = positive_decimal(p, "quoteOrderQty")
                qty = self._qty_for_quote(inst, sym, side, quote_qty)
                return NewOrder(side, "MARKET", OrderType.MARKET, resp, qty, quote_qty=quote_qty)
            return NewOrder(side, "MARKET", OrderType.MARKET, resp, positive_decimal(p, "quantity"))
        if type_name not in ("LIMIT", "LIMIT_MAKER", *STOP_TYPES):
            raise errors.bad_order_type()
        qty, price = positive_decimal(p, "quantity"), positive_decimal(p, "price")
        if type_name == "LIMIT_MAKER":
            self.refuse_taking(sym, side, price)
            return NewOrder(
                side, type_name, OrderType.LIMIT, resp, qty, price, tif=TimeInForce.POST_ONLY
            )
        tif_name = required(p, "timeInForce").upper()
        tif = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC}.get(tif_name)
        if tif is None:
            raise errors.bad_tif()
        stop = positive_decimal(p, "stopPrice") if type_name in STOP_TYPES else None
        return NewOrder(
            side, type_name, OrderType.LIMIT, resp, qty, price, tif, tif_name, stop_price=stop
        )

    def cancel(self, p: Mapping[str, str], now_ms: int) -> OrderRecord:
        """DELETE /api/v3/order by ``origClientOrderId`` or ``orderId``."""
        rec = self._find(p)
        if rec is None or not rec.is_open:
            raise errors.unknown_order()
        if rec.order_list_id >= 0:  # Binance cancels the whole list with any of its legs
            self.contingent.end_list(
                self.contingent.lists[rec.order_list_id], now_ms, keep=None, status="CANCELED"
            )
        else:
            self.contingent.withdraw(rec, now_ms, "CANCELED")
        self.sync(now_ms)
        return rec

    def query(self, p: Mapping[str, str]) -> OrderRecord:
        """GET /api/v3/order; -2013 for an order the exchange never saw."""
        rec = self._find(p)
        if rec is None:
            raise errors.order_does_not_exist()
        return rec

    def open_orders(self, symbol: str | None) -> list[OrderRecord]:
        if symbol is not None and symbol not in self.instruments:
            raise errors.bad_symbol()
        return [r for r in self.records.values() if r.is_open and symbol in (None, r.symbol)]

    def all_orders(self, p: Mapping[str, str]) -> list[OrderRecord]:
        sym = fmt.exchange_symbol(self.instrument(p).symbol)
        start, end, from_id = (
            optional_int(p, "startTime"),
            optional_int(p, "endTime"),
            optional_int(p, "orderId"),
        )
        rows = [
            r
            for r in self.records.values()
            if r.symbol == sym
            and (from_id is None or r.order_id >= from_id)
            and (start is None or r.created_ms >= start)
            and (end is None or r.created_ms <= end)
        ]
        return _window(
            rows,
            optional_int(p, "limit") or 500,
            from_start=from_id is not None or start is not None,
        )

    def my_trades(self, p: Mapping[str, str]) -> list[FillRecord]:
        sym = fmt.exchange_symbol(self.instrument(p).symbol)
        start, end = optional_int(p, "startTime"), optional_int(p, "endTime")
        from_id, order_id = optional_int(p, "fromId"), optional_int(p, "orderId")
        rows = [
            f
            for f in self.fills
            if f.symbol == sym
            and (order_id is None or f.order_id == order_id)
            and (from_id is None or f.trade_id >= from_id)
            and (start is None or f.time >= start)
            and (end is None or f.time <= end)
        ]
        limit = optional_int(p, "limit") or 500
        return _window(rows, limit, from_start=from_id is not None or start is not None)

    def balances(self) -> Mapping[str, Balance]:
        return self.venue.fetch_account().balances

    # ----------------------------------------------------------------- admin
    def set_balance(self, asset: str, total: Decimal, now_ms: int) -> None:
        """Deposit or withdraw so that ``asset`` totals ``total`` (Binance: balanceUpdate)."""
        bal = self.balances().get(asset)
        delta = total - (bal.total if bal is not None else ZERO)
        self.venue.adjust_balance(asset, delta)
        self.outbox.append(
            {"e": "balanceUpdate", "E": now_ms, "a": asset, "d": fmt.fmt(delta), "T": now_ms}
        )
        self._position([asset], now_ms)

    def requests_for(self, client_id: str) -> list[ReceivedOrder]:
        return [r for r in self.received if r.client_id == client_id]

    # --------------------------------------------------------------- helpers
    def instrument(self, p: Mapping[str, str]) -> Instrument:
        inst = self.instruments.get(required(p, "symbol").upper())
        if inst is None:
            raise errors.bad_symbol()
        return inst

    def _find(self, p: Mapping[str, str]) -> OrderRecord | None:
        sym = fmt.exchange_symbol(self.instrument(p).symbol)
        if p.get("origClientOrderId"):
            rec = self._by_client.get(p["origClientOrderId"])
        elif p.get("orderId"):
            rec = self.records.get(optional_int(p, "orderId") or 0)
        else:
            raise errors.ApiError(
                400,
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        return rec if rec is not None and rec.symbol == sym else None

    def _qty_for_quote(self, inst: Instrument, sym: str, side: Side, quote: Decimal) -> Decimal:
        ref = self.prices.reference(sym, side)
        if ref is None or ref <= 0:
            raise errors.ApiError(400, -1013, "Filter failure: NOTIONAL")
        return inst.round_qty(quote / ref)

    def avg_price(self, sym: str, now_ms: int) -> Decimal | None:
        return self.prices.average(sym, now_ms)

    def refuse_taking(self, sym: str, side: Side, price: Decimal) -> None:
        q = self.prices.quote(sym)
        if q is not None and (price >= q[1] if side is Side.BUY else price <= q[0]):
            raise errors.would_take()

    def check_filters(self, inst: Instrument, sym: str, order: NewOrder, now_ms: int) -> None:
        """PRICE_FILTER, (MARKET_)LOT_SIZE, PERCENT_PRICE_BY_SIDE, NOTIONAL and
        MAX_NUM_ORDERS, in the order exchangeInfo lists them and in Binance's words."""
        price, qty = order.price, order.qty
        lot = "MARKET_LOT_SIZE" if order.type is OrderType.MARKET else "LOT_SIZE"
        if price is not None and (price < inst.tick_size or price % inst.tick_size != 0):
            raise errors.filter_failure("PRICE_FILTER")
        if qty < max(inst.min_qty, inst.lot_size) or qty % inst.lot_size != 0:
            raise errors.filter_failure(lot)
        if price is not None and not self.prices.within_percent(sym, order.side, price, now_ms):
            raise errors.filter_failure("PERCENT_PRICE_BY_SIDE")
        ref = price if price is not None else self.prices.reference(sym, order.side)
        if ref is not None and qty * ref < inst.min_notional:
            raise errors.filter_failure("NOTIONAL")
        if sum(1 for r in self.records.values() if r.is_open and r.symbol == sym) >= (
            self.max_num_orders
        ):
            raise errors.filter_failure("MAX_NUM_ORDERS")
        if (
            order.stop_price is not None
            and self.contingent.open_stops(sym) >= fmt.MAX_NUM_ALGO_ORDERS
        ):
            raise errors.filter_failure("MAX_NUM_ALGO_ORDERS")

    def _log(
        self, p: Mapping[str, str], client_id: str, now_ms: int, outcome: str, oid: int | None
    ) -> None:
        self.received.append(
            ReceivedOrder(
                received_ms=now_ms, client_id=client_id, symbol=p.get("symbol", ""),
                side=p.get("side", ""), type=p.get("type", ""),
                quantity=p.get("quantity", p.get("quoteOrderQty", "")), price=p.get("price"),
                outcome=outcome, order_id=oid,
            )
        )  # fmt: skip

    def sync(self, now_ms: int) -> None:
        """Fold the venue's events into records and user-stream messages."""
        touched: set[str] = set()
        for event in self.venue.drain_events():
            if isinstance(event, FillReceived):
                rec = self._by_venue.get(event.fill.venue_order_id)
                if rec is not None:
                    self._fill(rec, event, touched)
                continue
            assert isinstance(event, OrderUpdated)
            rec = self._by_venue.get(event.report.venue_order_id)
            if rec is None:
                continue
            status = _STATUS.get(event.report.status, "NEW")
            if status == "CANCELED" and rec.venue_id in self.contingent.expiring:
                status = "EXPIRED"  # the other leg of an OCO ends as Binance ends it
            inst = self.instruments[rec.symbol]
            touched.update((inst.base, inst.quote))
            if not rec.announced:  # the venue's first word on an order: it is open
                rec.announced = True
                self.outbox.append(fmt.execution_report(rec, "NEW", now_ms))
            if status in ("NEW", "FILLED", "PARTIALLY_FILLED") or status == rec.status:
                continue  # fills report these states themselves
            rec.status = status
            rec.updated_ms = max(rec.updated_ms, event.report.ts, now_ms)
            self.outbox.append(fmt.execution_report(rec, status, now_ms))
        if touched:
            self._position(sorted(touched), now_ms)
        self.contingent.after_fills(now_ms)

    def _fill(self, rec: OrderRecord, event: FillReceived, touched: set[str]) -> None:
        f = event.fill
        inst = self.instruments[rec.symbol]
        touched.update((inst.base, inst.quote))
        # The matching engine stamps a fill with the market's last event; an order
        # that fills on arrival would then have traded before it was placed.
        at = max(f.ts, rec.created_ms)
        fill = FillRecord(
            trade_id=self._next_trade, order_id=rec.order_id, symbol=rec.symbol, side=f.side,
            price=f.price, qty=f.qty, commission=f.fee, commission_asset=f.fee_asset,
            time=at, is_maker=f.liquidity is Liquidity.MAKER,
        )  # fmt: skip
        self._next_trade += 1
        self.fills.append(fill)
        rec.fills.append(fill)
        rec.executed += f.qty
        rec.cum_quote += f.qty * f.price
        rec.status = "FILLED" if rec.executed >= rec.qty else "PARTIALLY_FILLED"
        rec.updated_ms = max(rec.updated_ms, at)
        self.outbox.append(fmt.execution_report(rec, "TRADE", at, fill))
        if rec.order_list_id >= 0:
            self.contingent.filled_legs.append(rec)

    def _position(self, assets: Sequence[str], now_ms: int) -> None:
        bals = self.balances()
        rows = [bals.get(a) or Balance(asset=a, free=ZERO) for a in assets]
        self.outbox.append(fmt.account_position(rows, now_ms))


def _window(rows: list[_Row], limit: int, *, from_start: bool) -> list[_Row]:
    """Binance's paging: the first ``limit`` after a starting point, else the most recent."""
    return rows[:limit] if from_start else rows[-limit:]

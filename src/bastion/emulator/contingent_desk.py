"""Stop orders and OCO lists on the emulator's order desk.

The matching engine knows only market and limit orders, so the desk keeps
what Binance keeps off the book: a STOP_LOSS_LIMIT or TAKE_PROFIT_LIMIT
waits here, its funds held as Binance holds them, until a trade reaches its
stop price; then its limit order goes to the engine. An OCO is two orders
sharing one quantity: the first to fill (even in part) or to trigger ends
the other, which Binance reports as EXPIRED; cancelling either cancels both.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from bastion.emulator import binance_format as fmt
from bastion.emulator import errors
from bastion.emulator.contingent import Leg, check_oco, parse_leg, triggered
from bastion.emulator.contingent import would_trigger_immediately as _immediate
from bastion.emulator.params import positive_decimal, required
from bastion.emulator.records import OrderList, OrderRecord
from bastion.model import Instrument, OrderRequest, OrderType, Side, StrategyRef, TimeInForce
from bastion.venues import errors as venue_errors

if TYPE_CHECKING:
    from bastion.emulator.exchange import Exchange, NewOrder

_EXTERNAL = StrategyRef(id="emulator", version="0")
Held = tuple[str, Decimal]  # (asset, amount) reserved for an order off the book


class ContingentDesk:
    """The stop orders and order lists of one ``Exchange``."""

    def __init__(self, exchange: Exchange) -> None:
        self.ex = exchange
        self.lists: dict[int, OrderList] = {}
        self.holds: dict[int, Held] = {}  # order id -> what its stop holds
        self.expiring: set[str] = set()  # engine ids cancelled because their OCO ended
        self.filled_legs: list[OrderRecord] = []  # OCO legs with a fill the list has not seen
        self._list_by_client: dict[str, OrderList] = {}

    # ------------------------------------------------------------ stop orders
    def open_stops(self, sym: str) -> int:
        """What MAX_NUM_ALGO_ORDERS counts: open stop-loss and take-profit orders."""
        recs = self.ex.records.values()
        return sum(1 for r in recs if r.is_open and r.symbol == sym and r.stop_price is not None)

    def check_stop(self, sym: str, type_name: str, side: Side, stop: Decimal) -> None:
        last = self.ex.last_price(sym)
        if last is not None and triggered(type_name, side, stop, last):
            raise _immediate()

    def hold(self, inst: Instrument, side: Side, qty: Decimal, price: Decimal | None) -> Held:
        """Reserve what the order would spend, as the engine would lock it."""
        assert price is not None
        if side is Side.SELL:
            held = (inst.base, qty)
        else:
            held = (inst.quote, qty * price * (1 + max(inst.taker_fee, inst.maker_fee)))
        try:
            self.ex.venue.hold(*held)
        except venue_errors.InsufficientFunds:
            raise errors.insufficient_balance() from None
        return held

    def _release(self, rec: OrderRecord) -> None:
        held = self.holds.pop(rec.order_id, None)
        if held is not None:
            self.ex.venue.release(*held)

    def trigger(self, sym: str, last: Decimal, now_ms: int) -> None:
        """Every waiting stop on ``sym`` that ``last`` reaches goes to the book."""
        waiting = [
            r
            for r in self.ex.records.values()
            if r.symbol == sym and r.is_open and not r.is_working and r.stop_price is not None
        ]
        for rec in waiting:
            assert rec.stop_price is not None
            if not rec.is_open or not triggered(rec.type_name, rec.side, rec.stop_price, last):
                continue
            if rec.order_list_id >= 0:
                self.end_list(self.lists[rec.order_list_id], now_ms, keep=rec, status="EXPIRED")
            self._release(rec)
            self._to_book(rec, now_ms)
        self.ex.sync(now_ms)

    def _to_book(self, rec: OrderRecord, now_ms: int) -> None:
        inst = self.ex.instruments[rec.symbol]
        tif = TimeInForce.IOC if rec.tif_name == "IOC" else TimeInForce.GTC
        request = OrderRequest(
            client_id=rec.client_id, strategy=_EXTERNAL, symbol=inst.symbol, side=rec.side,
            qty=rec.qty, type=OrderType.LIMIT, price=rec.price, tif=tif,
        )  # fmt: skip
        try:
            report = self.ex.venue.submit(request)
        except venue_errors.VenueError:  # funds gone meanwhile: Binance expires it
            self._close_here(rec, now_ms, "EXPIRED")
            return
        self.ex.on_book(rec, report.venue_order_id, now_ms)

    def withdraw(self, rec: OrderRecord, now_ms: int, status: str) -> None:
        """End one open order: through the engine if it is on the book, else here."""
        if not rec.is_working:
            self._release(rec)
            self._close_here(rec, now_ms, status)
            return
        if status == "EXPIRED":
            self.expiring.add(rec.venue_id)
        try:
            self.ex.venue.cancel(rec.unified, rec.client_id)
        except venue_errors.OrderNotFound:
            raise errors.unknown_order() from None

    def _close_here(self, rec: OrderRecord, now_ms: int, status: str) -> None:
        rec.status = status
        rec.updated_ms = max(rec.updated_ms, now_ms)
        self.ex.outbox.append(fmt.execution_report(rec, status, now_ms))

    # -------------------------------------------------------------- OCO lists
    def place_oco(
        self, p: Mapping[str, str], now_ms: int
    ) -> tuple[OrderList, list[OrderRecord], str]:
        """POST /api/v3/orderList/oco: the list, its two records, the reply type."""
        from bastion.emulator.exchange import NewOrder

        inst = self.ex.instrument(p)
        sym = fmt.exchange_symbol(inst.symbol)
        side = {"BUY": Side.BUY, "SELL": Side.SELL}.get(required(p, "side").upper())
        if side is None:
            raise errors.bad_side()
        qty = positive_decimal(p, "quantity")
        resp = p.get("newOrderRespType", "FULL")
        above, below = parse_leg(p, "above"), parse_leg(p, "below")
        check_oco(side, above, below, self.ex.last_price(sym))
        list_client = p.get("listClientOrderId") or "x-" + secrets.token_hex(10)
        prev = self._list_by_client.get(list_client)
        if prev is not None and not prev.done:
            raise errors.duplicate_order()
        orders = [(leg, self._leg_order(NewOrder, side, qty, leg, resp)) for leg in (above, below)]
        ids = [leg.client_id or "x-" + secrets.token_hex(10) for leg in (above, below)]
        for client_id, (_, order) in zip(ids, orders, strict=True):
            self.ex.check_filters(inst, sym, order, now_ms)
            if self.ex.client_id_open(client_id):
                raise errors.duplicate_order()
        if len(self.ex.open_orders(sym)) + 2 > self.ex.max_num_orders:
            raise errors.filter_failure("MAX_NUM_ORDERS")
        recs = self._place_legs(inst, ids, orders, now_ms)
        lst = OrderList(
            list_id=len(self.lists), list_client_id=list_client, symbol=sym,
            order_ids=(recs[0].order_id, recs[1].order_id), created_ms=now_ms,
        )  # fmt: skip
        self.lists[lst.list_id] = self._list_by_client[list_client] = lst
        for rec in recs:
            rec.order_list_id = lst.list_id
            if not rec.is_working:
                self.ex.announce(rec, now_ms)
        self.ex.sync(now_ms)
        self.ex.outbox.append(fmt.list_status(lst, recs, now_ms))
        return lst, recs, resp

    def _leg_order(
        self, cls: type[NewOrder], side: Side, qty: Decimal, leg: Leg, resp: str
    ) -> NewOrder:
        if leg.stop_price is None:  # LIMIT_MAKER
            return cls(
                side, leg.type_name, OrderType.LIMIT, resp, qty, leg.price, TimeInForce.POST_ONLY
            )
        tif = TimeInForce.IOC if leg.tif_name == "IOC" else TimeInForce.GTC
        return cls(
            side, leg.type_name, OrderType.LIMIT, resp, qty, leg.price, tif, leg.tif_name,
            stop_price=leg.stop_price,
        )  # fmt: skip

    def _place_legs(
        self, inst: Instrument, ids: list[str], orders: list[tuple[Leg, NewOrder]], now_ms: int
    ) -> list[OrderRecord]:
        """The book leg goes to the engine (its lock covers the list); a list of
        two stops holds the quantity once, on its first leg."""
        sym = fmt.exchange_symbol(inst.symbol)
        recs: list[OrderRecord] = []
        held: Held | None = None
        if all(order.stop_price is not None for _, order in orders):
            _, first = orders[0]
            held = self.hold(inst, first.side, first.qty, first.price)
        for client_id, (_, order) in zip(ids, orders, strict=True):
            if order.stop_price is None:
                self.ex.refuse_taking(sym, order.side, order.price or Decimal(0))
                report = self.ex.submit(client_id, inst, order.side, order.qty, order)
                recs.append(
                    self.ex.record(client_id, inst, order, now_ms, venue_id=report.venue_order_id)
                )
            else:
                recs.append(self.ex.record(client_id, inst, order, now_ms, venue_id=""))
        if held is not None:
            self.holds[recs[0].order_id] = held
        return recs

    def find_list(self, p: Mapping[str, str]) -> OrderList:
        if p.get("orderListId"):
            lst = self.lists.get(int(p["orderListId"]))
        elif p.get("listClientOrderId"):
            lst = self._list_by_client.get(p["listClientOrderId"])
        else:
            raise errors.missing_param("orderListId")
        sym = fmt.exchange_symbol(self.ex.instrument(p).symbol)
        if lst is None or lst.symbol != sym:
            raise errors.unknown_order()
        return lst

    def cancel_list(self, p: Mapping[str, str], now_ms: int) -> tuple[OrderList, list[OrderRecord]]:
        """DELETE /api/v3/orderList: both legs end CANCELED."""
        lst = self.find_list(p)
        if lst.done:
            raise errors.unknown_order()
        self.end_list(lst, now_ms, keep=None, status="CANCELED")
        self.ex.sync(now_ms)
        return lst, [self.ex.records[i] for i in lst.order_ids]

    def end_list(
        self, lst: OrderList, now_ms: int, *, keep: OrderRecord | None, status: str
    ) -> None:
        """ALL_DONE: every open leg but ``keep`` ends with ``status``."""
        if lst.done:
            return
        lst.done = True
        recs = [self.ex.records[i] for i in lst.order_ids]
        for rec in recs:
            if rec is not keep and rec.is_open:
                self.withdraw(rec, now_ms, status)
        self.ex.outbox.append(fmt.list_status(lst, recs, now_ms))

    def after_fills(self, now_ms: int) -> None:
        """An OCO leg that filled ends its list; the engine's cancels are synced next."""
        ended = False
        while self.filled_legs:
            rec = self.filled_legs.pop()
            lst = self.lists[rec.order_list_id]
            if not lst.done:
                self.end_list(lst, now_ms, keep=rec, status="EXPIRED")
                ended = True
        if ended:
            self.ex.sync(now_ms)

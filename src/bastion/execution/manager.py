"""The order manager: approved requests in, venue calls out, never twice.

Every order is registered (and, with a store, persisted) under its client id
before it is sent. A failed send is classified in one table
(``outcomes.classify``): a definite refusal ends the order; an *unknown*
outcome is never re-sent, it blocks new exposure on the symbol until the venue
is asked about that client id. Fills are deduped by trade id and attributed to
the strategy that placed the order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from bastion.execution.lifecycle import IllegalTransition, OrderEvent, event_for_status, transition
from bastion.execution.outcomes import Outcome, classify
from bastion.model import (
    CancelRequest,
    Fill,
    OrderReport,
    OrderRequest,
    OrderStatus,
)
from bastion.model.money import ZERO
from bastion.venues.errors import OrderNotFound, VenueError
from bastion.venues.port import FillReceived, OrderUpdated, Venue, VenueEvent

Sink = Callable[[str, int, dict[str, Any]], None]  # (kind, ts, payload) -> journal


class OrderStore(Protocol):
    """Where client ids are written before the first send (see ``bastion.state``)."""

    def save_order(self, request: OrderRequest, status: OrderStatus, ts: int) -> None: ...


@dataclass(slots=True)
class ManagedOrder:
    request: OrderRequest
    status: OrderStatus = OrderStatus.NEW
    venue_id: str = ""
    filled: Decimal = ZERO
    notional: Decimal = ZERO
    fees: Decimal = ZERO
    reason: str = ""
    created_ts: int = 0
    updated_ts: int = 0

    @property
    def remaining(self) -> Decimal:
        return self.request.qty - self.filled

    @property
    def avg_price(self) -> Decimal | None:
        return self.notional / self.filled if self.filled else None

    def as_report(self) -> OrderReport:
        r = self.request
        return OrderReport(
            client_id=r.client_id,
            venue_order_id=self.venue_id,
            symbol=r.symbol,
            side=r.side,
            type=r.type,
            qty=r.qty,
            price=r.price,
            tif=r.tif,
            status=self.status,
            filled_qty=self.filled,
            avg_fill_price=self.avg_price,
            ts=self.updated_ts,
            reason=self.reason,
        )


class OrderManager:
    """Tracks every order bastion placed, from request to terminal state."""

    def __init__(self, venue: Venue, sink: Sink, store: OrderStore | None = None) -> None:
        self._venue = venue
        self._sink = sink
        self._store = store
        self.orders: dict[str, ManagedOrder] = {}
        self.working: dict[str, ManagedOrder] = {}
        self._seen_trades: set[str] = set()
        self.fills: list[tuple[str, Fill]] = []  # (strategy id, fill), in arrival order
        self.attributed: dict[tuple[str, str], Decimal] = {}  # (strategy id, symbol) -> qty
        self.blocked: set[str] = set()  # symbols with an order of unknown outcome

    # ----------------------------------------------------------- commands
    def submit(self, req: OrderRequest, now: int) -> ManagedOrder:
        if req.client_id in self.orders:
            raise ValueError(f"client order id {req.client_id} was already used")
        mo = ManagedOrder(request=req, created_ts=now, updated_ts=now)
        self.orders[req.client_id] = mo
        self.working[req.client_id] = mo
        self._move(mo, OrderEvent.SUBMIT, now)
        if self._store is not None:
            self._store.save_order(req, mo.status, now)
        self._sink(
            "order_submitted",
            now,
            {
                "client_id": req.client_id,
                "strategy": str(req.strategy),
                "symbol": req.symbol,
                "side": req.side.value,
                "qty": str(req.qty),
                "type": req.type.value,
                "price": None if req.price is None else str(req.price),
                "tif": req.tif.value,
                "cycle": req.cycle,
            },
        )
        try:
            report = self._venue.submit(req)
        except VenueError as exc:
            self._on_submit_error(mo, exc, now)
        except Exception as exc:  # anything unexpected: we do not know what happened
            self._on_submit_error(mo, exc, now)
        else:
            self.apply_report(report, now)
        return mo

    def cancel(self, creq: CancelRequest, now: int) -> None:
        mo = self.orders.get(creq.client_id)
        if mo is None or mo.status.terminal:
            return
        if mo.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED):
            self._move(mo, OrderEvent.CANCEL_REQUESTED, now)
        self._sink("cancel_requested", now, {"client_id": creq.client_id, "reason": creq.reason})
        try:
            report = self._venue.cancel(creq.symbol, creq.client_id)
        except OrderNotFound:
            # Already gone: find out how it ended instead of guessing.
            found = self._venue.fetch_order(creq.symbol, creq.client_id)
            if found is not None:
                self.apply_report(found, now)
        except VenueError as exc:
            self._sink("cancel_failed", now, {"client_id": creq.client_id, "error": str(exc)})
            if mo.status is OrderStatus.CANCEL_PENDING:
                self._move(mo, OrderEvent.CANCEL_FAILED, now)
        else:
            self.apply_report(report, now)

    # ------------------------------------------------------------- events
    def on_events(self, events: Iterable[VenueEvent], now: int) -> None:
        for ev in events:
            if isinstance(ev, FillReceived):
                self.apply_fill(ev.fill, now)
            elif isinstance(ev, OrderUpdated):
                self.apply_report(ev.report, now)

    def apply_report(self, report: OrderReport, now: int) -> None:
        mo = self.orders.get(report.client_id)
        if mo is None:
            return  # not ours; the reconciler adopts foreign orders
        mo.venue_id = report.venue_order_id or mo.venue_id
        event = event_for_status(report.status)
        if event is None or report.status is mo.status:
            return
        if (
            report.status is OrderStatus.PARTIALLY_FILLED
            and mo.status is OrderStatus.CANCEL_PENDING
        ):
            return
        if report.status is OrderStatus.OPEN and mo.status is OrderStatus.PARTIALLY_FILLED:
            return  # a stale "open" report arriving after a fill
        mo.reason = report.reason or mo.reason
        self._move(mo, event, now)

    def apply_fill(self, fill: Fill, now: int) -> None:
        if fill.trade_id in self._seen_trades:
            self._sink("fill_duplicate", now, {"trade_id": fill.trade_id})
            return
        self._seen_trades.add(fill.trade_id)
        mo = self.orders.get(fill.client_id)
        strategy_id = mo.request.strategy.id if mo is not None else ""
        self.fills.append((strategy_id, fill))
        key = (strategy_id, fill.symbol)
        self.attributed[key] = self.attributed.get(key, ZERO) + fill.signed_qty
        if mo is not None:
            mo.filled += fill.qty
            mo.notional += fill.qty * fill.price
            mo.fees += fill.fee
            mo.updated_ts = now
        self._sink(
            "fill",
            fill.ts,
            {
                "trade_id": fill.trade_id,
                "client_id": fill.client_id,
                "strategy": str(mo.request.strategy) if mo is not None else "",
                "symbol": fill.symbol,
                "side": fill.side.value,
                "qty": str(fill.qty),
                "price": str(fill.price),
                "fee": str(fill.fee),
                "liquidity": fill.liquidity.value,
            },
        )

    # ------------------------------------------------------------ queries
    def working_for(self, strategy_id: str) -> list[OrderReport]:
        return [
            mo.as_report() for mo in self.working.values() if mo.request.strategy.id == strategy_id
        ]

    def positions_for(self, strategy_id: str) -> Mapping[str, Decimal]:
        return {sym: q for (sid, sym), q in self.attributed.items() if sid == strategy_id}

    # ----------------------------------------------------------- internal
    def _on_submit_error(self, mo: ManagedOrder, exc: BaseException, now: int) -> None:
        outcome = classify(exc)
        mo.reason = f"{type(exc).__name__}: {exc}"
        if outcome in (Outcome.FAILED, Outcome.FAILED_TRANSIENT):
            self._move(mo, OrderEvent.REJECTED, now)
        elif outcome is Outcome.LANDED:
            found = self._venue.fetch_order(mo.request.symbol, mo.request.client_id)
            if found is not None:
                self.apply_report(found, now)
            else:
                self._unknown(mo, now)
        else:
            self._unknown(mo, now)

    def _unknown(self, mo: ManagedOrder, now: int) -> None:
        self._move(mo, OrderEvent.OUTCOME_UNKNOWN, now)
        self.blocked.add(mo.request.symbol)

    def _move(self, mo: ManagedOrder, event: OrderEvent, now: int) -> None:
        cid = mo.request.client_id
        try:
            new = transition(cid, mo.status, event)
        except IllegalTransition as exc:
            self._sink(
                "illegal_transition",
                now,
                {"client_id": cid, "state": exc.state.value, "event": exc.event.value},
            )
            raise
        old, mo.status, mo.updated_ts = mo.status, new, now
        if new is old:
            return
        if new.terminal:
            self.working.pop(cid, None)
        if new is OrderStatus.NEW or event is OrderEvent.SUBMIT:
            return
        self._sink(
            "order_" + new.value,
            now,
            {
                "client_id": cid,
                "strategy": str(mo.request.strategy),
                "symbol": mo.request.symbol,
                "from": old.value,
                "event": event.value,
                "reason": mo.reason,
                "filled": str(mo.filled),
            },
        )

    def resolve_unknown(self, now: int) -> None:
        """Ask the venue about every order of unknown outcome, by client id.

        Found: it takes the venue's state. Not found: it stays UNKNOWN and the
        symbol stays blocked; deciding "never placed" needs the venue's word
        over time (see the execution issue's resolution policy), not a guess.
        """
        for mo in [m for m in self.working.values() if m.status is OrderStatus.UNKNOWN]:
            try:
                found = self._venue.fetch_order(mo.request.symbol, mo.request.client_id)
            except VenueError:
                continue
            if found is not None:
                self.apply_report(found, now)
        still = {m.request.symbol for m in self.working.values() if m.status is OrderStatus.UNKNOWN}
        self.blocked = still

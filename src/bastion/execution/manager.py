"""The order manager: approved requests in, venue calls out, never twice.

Every order is registered and persisted under its client id before it is
sent. A failed send is classified in one table (``outcomes.classify``):

- *definitely failed*: the order ends REJECTED; a transient refusal (rate
  limit) is sent again under the same id after a backoff, up to a hard cap on
  attempts and total delay; at the cap ``tick`` reports ``CapReached`` and the
  engine flattens and halts;
- *unknown* (timeout, 5xx, bad response, anything unexpected): never re-sent.
  The symbol takes no new exposure while ``tick`` asks the venue about the
  client id. Found: it takes the venue's state. Not found, consistently, past
  a grace period: *not placed* (the venue's word). A fresh decision is then
  handed back to the engine (``resends_due``), whose risk gate reviews it as
  a new send before it goes again under the same id; a stale one is dropped,
  and so is one whose cancel was asked while its outcome was unknown (the
  strategy has moved on) or one recovered after a restart. Neither within a
  bound: UNRESOLVED, alerted, the symbol stays blocked;
- *landed* (duplicate client id): an earlier attempt was accepted; look it up.

Immediately before every send (first sends, retries, re-sends) the manager
asks its ``guard`` (the kill flag and the halt latch, ``SendGuard``): a kill
or a halt that lands while a cycle is under way (a bot hung mid-cycle, then
woken) withholds the order for good instead of letting it out.

Fills are deduped by trade id (across restarts, through the store) and
attributed to the strategy that placed the order.

With a store, memory is bounded (``bastion.execution.retention``): terminal
orders, fills and seen trade ids beyond a recent window live only in the
store, and an event naming a forgotten order reads it back (``recall``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from bastion.execution import recovery, retention, unknown
from bastion.execution.backfill import fill_payload, submitted_payload
from bastion.execution.lifecycle import IllegalTransition, OrderEvent, event_for_status, transition
from bastion.execution.outcomes import Outcome, classify
from bastion.execution.policy import ExecutionPolicy
from bastion.execution.retention import RecentSet, Retention
from bastion.execution.tracked import CapReached, ManagedOrder, OrderStore, SendGuard
from bastion.model import CancelRequest, Fill, OrderReport, OrderRequest, OrderStatus
from bastion.model.money import ZERO
from bastion.model.orders import order_origin
from bastion.venues.errors import OrderNotFound, VenueError
from bastion.venues.port import FillReceived, OrderUpdated, Venue, VenueEvent

Sink = Callable[[str, int, dict[str, Any]], None]  # (kind, ts, payload) -> journal


class OrderManager:
    """Tracks every order bastion placed, from request to terminal state."""

    def __init__(
        self,
        venue: Venue,
        sink: Sink,
        store: OrderStore | None = None,
        *,
        policy: ExecutionPolicy | None = None,
        seed: int = 0,
        guard: SendGuard | None = None,
        clock: Callable[[], int] | None = None,
        retention: Retention | None = None,
    ) -> None:
        self._venue = venue
        self._sink = sink
        self._store = store
        self.guard = guard
        # Send times (``order_submitted``, re-sends) come from here; without a
        # clock they are the decision's ``now`` (backtests: the same instant).
        self._clock = clock
        self.policy = policy or ExecutionPolicy()
        self._rng = random.Random(seed)
        # Without a store nothing is forgotten unless a retention is passed (a
        # backtest that keeps its fills on a tape, bounded in memory like a live bot).
        keep = (retention or Retention()) if store is not None else retention
        self._keep = keep
        self.orders: dict[str, ManagedOrder] = {}  # working and recent terminal ones
        self.working: dict[str, ManagedOrder] = {}
        self._ended: dict[str, None] = {}  # terminal orders in memory, oldest first
        self._seen_trades = RecentSet(keep.trades if keep else None)
        self.fills: list[tuple[str, Fill]] = []  # (strategy id, fill), recent, in arrival order
        self.submitted = 0  # orders registered (submitted or adopted): never shrinks
        self.registered = 0  # every order ever put in ``orders`` (an OCO's legs too)
        self.fills_applied = 0  # fills applied (or re-applied after a restart): never shrinks
        self.attributed: dict[tuple[str, str], Decimal] = {}  # (strategy id, symbol) -> qty
        self.blocked: set[str] = set()  # symbols with an order of unknown outcome
        # Venue orders we did not place (journaled once, not fought).
        self._foreign = RecentSet(keep.foreign if keep else None)
        # Orders whose reports say more was filled than the fills applied so far
        # (a reply said "filled" before the fill events came): still in flight.
        self.settling: dict[str, ManagedOrder] = {}

    # ----------------------------------------------------------- commands
    def submit(self, req: OrderRequest, now: int) -> ManagedOrder:
        if self.recall(req.client_id) is not None:
            raise ValueError(f"client order id {req.client_id} was already used")
        mo = ManagedOrder(request=req, created_ts=now, updated_ts=now)
        self.orders[req.client_id] = mo
        self.submitted += 1
        self.registered += 1
        self.working[req.client_id] = mo
        why = self.guard(req, now) if self.guard is not None else None
        if self._store is not None:
            # On disk before the first send, in one write: stored as submitting
            # already (a crash before the send leaves an order that recovery looks
            # up and finds "not placed", never one taken for unsent and re-sent).
            self._store.save_order(req, OrderStatus.NEW if why else OrderStatus.SUBMITTING, now)
        sent = self._clock() if self._clock is not None else now
        self._sink("order_submitted", sent, submitted_payload(req))
        if why is not None:
            self._withhold(mo, why, now)
        else:
            self._dispatch(mo, now, stored=True)
        return mo

    def submit_linked(
        self,
        reqs: Sequence[OrderRequest],
        send: Callable[[], Sequence[OrderReport]],
        now: int,
    ) -> list[ManagedOrder]:
        """Orders the venue takes in one call (an OCO's legs): each registered and
        on disk before ``send``, an error classified for all of them, and none
        ever sent again alone (a transient refusal ends them, not a retry)."""
        mos = []
        for req in reqs:
            if req.client_id in self.orders:
                raise ValueError(f"client order id {req.client_id} was already used")
        for req in reqs:
            mo = ManagedOrder(request=req, created_ts=now, updated_ts=now)
            mo.no_resend = "a leg of an order list, never sent alone"
            self.orders[req.client_id] = self.working[req.client_id] = mo
            self.registered += 1
            if self._store is not None:
                self._store.save_order(req, mo.status, now)
            self._sink("order_submitted", now, submitted_payload(req))
            mos.append(mo)
        why = None
        for req in reqs:  # one withheld leg withholds the list
            why = why or (self.guard(req, now) if self.guard is not None else None)
        for mo in mos:
            mo.attempts += 1
            if why is not None:
                mo.reason = f"withheld before sending: {why}"
            self._move(mo, OrderEvent.WITHHELD if why is not None else OrderEvent.SUBMIT, now)
        if why is not None:
            return mos
        try:
            reports = send()
        except Exception as exc:
            transient = classify(exc) is Outcome.FAILED_TRANSIENT
            for mo in mos:
                if transient:
                    mo.reason = f"{type(exc).__name__}: {exc}"
                    self._move(mo, OrderEvent.REJECTED, now)
                else:
                    unknown.on_submit_error(self, mo, exc, now)
        else:
            for report in reports:
                self.apply_report(report, now)
        return mos

    def cancel(self, creq: CancelRequest, now: int) -> None:
        mo = self.orders.get(creq.client_id)
        if mo is None or mo.status.terminal:
            return
        if mo.status is OrderStatus.NEW:  # waiting for a retry: never reached the venue
            mo.reason = f"cancelled before sending: {creq.reason}"
            self._move(mo, OrderEvent.ABANDONED, now)
            return
        if mo.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED):
            self._move(mo, OrderEvent.CANCEL_REQUESTED, now)
        elif mo.status in (OrderStatus.UNKNOWN, OrderStatus.SUBMITTING):
            # Whatever a lookup later finds, this order must not come back: if it
            # is resting it is cancelled then, if it was never placed it is dropped.
            mo.cancel_asked = True
            mo.no_resend = "its cancel was asked while its outcome was unknown"
        self._sink(
            "cancel_requested",
            now,
            {"client_id": creq.client_id, "symbol": creq.symbol, "reason": creq.reason},
        )
        try:
            report = self._venue.cancel(creq.symbol, creq.client_id)
        except OrderNotFound:
            # Already gone (filled, expired): find out how it ended instead of guessing.
            unknown.lookup(self, mo, now)
        except VenueError as exc:
            self._sink("cancel_failed", now, {"client_id": creq.client_id, "error": str(exc)})
            if mo.status is OrderStatus.CANCEL_PENDING:
                self._move(mo, OrderEvent.CANCEL_FAILED, now)
        else:
            self.apply_report(report, now)

    def tick(self, now: int) -> list[CapReached]:
        """Housekeeping before each decision: due retries, unknown outcomes."""
        caps: list[CapReached] = []
        for mo in list(self.working.values()):
            if mo.status is OrderStatus.NEW and mo.retry_at is not None and now >= mo.retry_at:
                mo.retry_at = None
                self._send(mo, now)
            elif mo.status is OrderStatus.UNKNOWN:
                unknown.resolve(self, mo, now)
            if mo.status is OrderStatus.REJECTED and mo.reason.startswith("retry cap"):
                caps.append(
                    CapReached(mo.request.client_id, mo.request.symbol, mo.attempts, mo.reason)
                )
        self.blocked = {
            m.request.symbol for m in self.working.values() if m.status is OrderStatus.UNKNOWN
        }
        return caps

    # ------------------------------------------------------------- events
    def on_events(self, events: Iterable[VenueEvent], now: int) -> None:
        for ev in events:
            if isinstance(ev, FillReceived):
                self.apply_fill(ev.fill, now)
            elif isinstance(ev, OrderUpdated):
                self.apply_report(ev.report, now)

    def apply_report(self, report: OrderReport, now: int) -> None:
        mo = self.recall(report.client_id)
        if mo is None:
            return  # not ours; the reconciler adopts foreign orders
        mo.venue_id = report.venue_order_id or mo.venue_id
        if report.filled_qty > mo.reported:
            mo.reported = report.filled_qty
            if mo.reported > mo.filled:
                self.settling[report.client_id] = mo
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
        if mo.status.terminal and event is not event_for_status(mo.status):
            self._sink(
                "late_report",
                now,
                {
                    "client_id": mo.request.client_id,
                    "have": mo.status.value,
                    "got": report.status.value,
                },
            )
            return
        mo.reason = report.reason or mo.reason
        self._move(mo, event, now)
        if mo.cancel_asked and mo.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED):
            mo.cancel_asked = False  # once: a cancel that fails is the cancel path's business
            self.cancel(
                CancelRequest(
                    client_id=mo.request.client_id,
                    symbol=mo.request.symbol,
                    reason="cancel asked while its outcome was unknown",
                ),
                now,
            )

    def apply_fill(self, fill: Fill, now: int) -> None:
        if fill.trade_id in self._seen_trades:
            self._sink("fill_duplicate", now, {"trade_id": fill.trade_id, "symbol": fill.symbol})
            return
        self._seen_trades.add(fill.trade_id)
        mo = self._owner_of(fill)
        if mo is None and order_origin(fill.client_id) != "killswitch":
            # Not an order of ours (a hand trade, another bot, history older than
            # this folder): not the bot's position; the reconciler reports the change.
            self._sink("foreign_fill", fill.ts, fill_payload(fill, ""))
            return
        if self._store is not None and not self._store.record_fill(fill):
            return  # applied before a restart
        strategy_id = mo.request.strategy.id if mo is not None else ""
        self._keep_fill(strategy_id, fill)
        key = (strategy_id, fill.symbol)
        self.attributed[key] = self.attributed.get(key, ZERO) + fill.signed_qty
        if mo is not None:
            mo.filled += fill.qty
            mo.notional += fill.qty * fill.price
            mo.fees += fill.fee
            mo.updated_ts = now
            if mo.filled >= mo.reported:
                self.settling.pop(mo.request.client_id, None)
            self._persist(mo, now)
        self._sink("fill", fill.ts, fill_payload(fill, str(mo.request.strategy) if mo else ""))

    def _owner_of(self, fill: Fill) -> ManagedOrder | None:
        """Our order behind ``fill``: by client id, else by the venue's order id
        (a fill whose client id the venue could not tell us)."""
        mo = self.recall(fill.client_id) if fill.client_id else None
        if mo is None and fill.venue_order_id:
            mo = next((m for m in self.working.values() if m.venue_id == fill.venue_order_id), None)
            if mo is None:
                mo = next(
                    (m for m in self.settling.values() if m.venue_id == fill.venue_order_id), None
                )
        return mo

    def catch_up_fills(self, since_ts: int, now: int) -> None:
        """Apply fills the stream may have missed (disconnects, downtime)."""
        for fill in self._venue.fetch_fills(since_ts):
            if fill.trade_id not in self._seen_trades:
                self.apply_fill(fill, now)

    def sync(self, open_orders: Iterable[OrderReport], now: int) -> None:
        """Bring our working orders in line with a full snapshot of the venue.

        The private stream can drop messages; the snapshot cannot lie. An order
        we think is working but the venue no longer lists is looked up by client
        id (and its fills fetched); an order the venue lists that we never placed
        is someone else's (placed by hand): journaled once and left alone.
        """
        recovery.sync(self, open_orders, now)

    # ----------------------------------------------------------- recovery
    def adopt(self, mo: ManagedOrder, seen_trades: Iterable[str] = ()) -> None:
        """Load an order from the store after a restart (before any decision)."""
        self.orders[mo.request.client_id] = mo
        self.submitted += 1
        self.registered += 1
        if mo.status.terminal:
            self._ended[mo.request.client_id] = None  # forgotten at ``trim``
        else:
            self.working[mo.request.client_id] = mo
        self._seen_trades.update(seen_trades)

    def adopt_close(self, req: OrderRequest, now: int, since: int) -> bool:
        """Take on a close the kill switch sent on the bot's share (another
        process, ``bastion.state.killorders``): its fills are the bot's. Held as
        an order of unknown outcome that is never re-sent, so the usual lookup by
        client id finds it and its fills, or drops it as never placed; until
        then it is in flight, and the fall it made is not taken for a withdrawal.
        ``since`` is how far back its fills are looked for. False when the order
        is known already."""
        if self.recall(req.client_id) is not None:
            return False
        mo = ManagedOrder(request=req, created_ts=since, updated_ts=now, status=OrderStatus.UNKNOWN)
        mo.no_resend = "a kill switch's close: sent by another process"
        self.orders[req.client_id] = mo
        self.submitted += 1
        self.registered += 1
        self.working[req.client_id] = mo
        if self._store is not None:
            self._store.save_order(req, mo.status, since)
        self._sink("order_submitted", now, submitted_payload(req) | {"adopted": "killswitch"})
        return True

    def adopt_fills(self, fills: Iterable[Fill], owner: Mapping[str, str]) -> None:
        """Re-apply stored fills to positions after a restart (no journal, no store)."""
        recovery.adopt_fills(self, fills, owner)

    def recover(self, now: int) -> None:
        """Every order not known terminal is re-learned from the venue by client id."""
        recovery.recover(self, now)

    # ----------------------------------------------------------- re-sends
    def resends_due(self) -> list[ManagedOrder]:
        """Orders proven not placed while their decision is fresh: the engine
        reviews each as a new send, then calls ``resend`` or ``drop``."""
        return [mo for mo in self.working.values() if mo.resend_due]

    def resend(self, client_id: str, now: int) -> None:
        mo = self.orders[client_id]
        mo.resend_due = False
        self._send(mo, now)

    def drop(self, client_id: str, reason: str, now: int) -> None:
        """A not-placed order that may not go again: terminal, with its reason."""
        mo = self.orders[client_id]
        mo.resend_due = False
        mo.reason = reason
        self._move(mo, OrderEvent.ABANDONED, now)

    # ------------------------------------------------------------ queries
    def working_for(self, strategy_id: str) -> list[OrderReport]:
        """The strategy's own working orders (not a flatten, a kill or a protective
        stop made in its name)."""
        return [
            mo.as_report()
            for mo in self.working.values()
            if mo.request.strategy.id == strategy_id
            and mo.request.origin not in ("risk", "killswitch", "protect")
        ]

    def protection_for(self, strategy_id: str) -> list[OrderReport]:
        """The protective orders (``bp``) working in the strategy's name."""
        return [
            mo.as_report()
            for mo in self.working.values()
            if mo.request.strategy.id == strategy_id and mo.request.origin == "protect"
        ]

    def positions_for(self, strategy_id: str) -> Mapping[str, Decimal]:
        return {sym: q for (sid, sym), q in self.attributed.items() if sid == strategy_id}

    # ------------------------------------------------------------- memory
    def recall(self, client_id: str) -> ManagedOrder | None:
        """Our order under ``client_id``: in memory, else read back from the store
        (a terminal order forgotten since, named by a late report or fill)."""
        return retention.recall(self, client_id)

    def trim(self) -> None:
        """Forget terminal orders and fills beyond the retention (with a store)."""
        retention.trim(self)

    def _keep_fill(self, strategy_id: str, fill: Fill) -> None:
        self.fills.append((strategy_id, fill))
        self.fills_applied += 1
        retention.trim_fills(self)

    # ----------------------------------------------------------- internal
    def _send(self, mo: ManagedOrder, now: int) -> None:
        why = self.guard(mo.request, now) if self.guard is not None else None
        if why is not None:
            self._withhold(mo, why, now)
        else:
            self._dispatch(mo, now)

    def _withhold(self, mo: ManagedOrder, why: str, now: int) -> None:
        mo.retry_at, mo.resend_due = None, False
        mo.reason = f"withheld before sending: {why}"
        self._move(mo, OrderEvent.WITHHELD, now)

    def _dispatch(self, mo: ManagedOrder, now: int, *, stored: bool = False) -> None:
        """Send, the guard having let it go; ``stored``: the row says submitting already."""
        mo.attempts += 1
        if mo.attempts > 1:
            self._sink(
                "order_resent",
                self._clock() if self._clock is not None else now,
                {
                    "client_id": mo.request.client_id,
                    "symbol": mo.request.symbol,
                    "attempt": mo.attempts,
                },
            )
        self._move(mo, OrderEvent.SUBMIT, now, persist=not stored)
        try:
            report = self._venue.submit(mo.request)
        except Exception as exc:  # VenueError or anything unexpected (then: unknown)
            unknown.on_submit_error(self, mo, exc, now)
        else:
            self.apply_report(report, now)

    def _persist(self, mo: ManagedOrder, now: int) -> None:
        if self._store is not None:
            self._store.update_order(
                mo.request.client_id,
                status=mo.status,
                filled=mo.filled,
                venue_id=mo.venue_id,
                reason=mo.reason,
                ts=now,
            )

    def _move(self, mo: ManagedOrder, event: OrderEvent, now: int, *, persist: bool = True) -> None:
        cid = mo.request.client_id
        try:
            new = transition(cid, mo.status, event)
        except IllegalTransition as exc:
            self._sink(
                "illegal_transition",
                now,
                {
                    "client_id": cid,
                    "state": exc.state.value,
                    "event": exc.event.value,
                    "alert": True,
                },
            )
            raise
        old, mo.status, mo.updated_ts = mo.status, new, now
        if new is old:
            return
        if persist:  # (the first send's row says submitting already)
            self._persist(mo, now)  # on disk before memory may forget it
        if old is OrderStatus.UNKNOWN:  # learned outside tick (a stream event, a sync)
            self.blocked = {
                m.request.symbol for m in self.working.values() if m.status is OrderStatus.UNKNOWN
            }
        if new.terminal:
            self.working.pop(cid, None)
            self._ended[cid] = None
            self.trim()
        if event is OrderEvent.SUBMIT:
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

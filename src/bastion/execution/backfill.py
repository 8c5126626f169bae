"""The journal's order events, and what recovery writes when a crash lost some.

The order store commits at once (an order is on disk before it is sent, a
fill as soon as it is applied); the journal is written in batches, flushed
before each cycle's sends and at its end. A process killed in between (found
in a SIGKILL campaign: ten accepted orders without ``order_submitted``, two
fills missing) leaves the store ahead of the journal, and after a restart the
"already applied" fill dedupe would never journal them. The two cannot share
one transaction (two SQLite files in WAL mode are not committed atomically
together, and an fsync per order would break the order path's budget), so
start-up recovery closes the gap instead: ``missing_events`` compares what
the store holds with what the journal says and returns the events the journal
lacks, each marked ``recovered``. It is pure (rows in, events out); the
session reads both files and appends the result before its first decision.
The store is never behind the journal: every write goes to the store first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bastion.model import Fill, OrderRequest, OrderStatus
from bastion.state.orders import StoredOrder

Event = tuple[str, int, dict[str, Any]]  # (kind, ts, payload), as a Sink takes it

STATUS_KINDS = tuple(f"order_{s.value}" for s in OrderStatus)
JOURNAL_KINDS = ("order_submitted", "fill", *STATUS_KINDS)  # what the comparison reads
_NOT_YET_JOURNALED = (OrderStatus.NEW, OrderStatus.SUBMITTING)  # a send is never journaled


def submitted_payload(req: OrderRequest) -> dict[str, Any]:
    """What ``order_submitted`` says of an order (and of a stop, its trigger)."""
    out: dict[str, Any] = {
        "client_id": req.client_id,
        "strategy": str(req.strategy),
        "symbol": req.symbol,
        "side": req.side.value,
        "qty": str(req.qty),
        "type": req.type.value,
        "price": None if req.price is None else str(req.price),
        "tif": req.tif.value,
        "cycle": req.cycle,
        "reduces_exposure": req.reduces_exposure,
    }
    if req.stop_price is not None:
        out["stop_price"] = str(req.stop_price)
        out["stop_kind"] = req.stop_kind.value
    return out


def fill_payload(fill: Fill, strategy: str) -> dict[str, Any]:
    """What a ``fill`` event says; ``strategy`` is the owner's ``id@version``."""
    return {
        "trade_id": fill.trade_id,
        "client_id": fill.client_id,
        "strategy": strategy,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "qty": str(fill.qty),
        "price": str(fill.price),
        "fee": str(fill.fee),
        "liquidity": fill.liquidity.value,
    }


def missing_events(
    orders: Iterable[StoredOrder], fills: Iterable[Fill], journaled: Iterable[Mapping[str, Any]]
) -> list[Event]:
    """Events for what the store holds and the journal lacks: an order's
    ``order_submitted``, a fill, an order's latest state. ``journaled`` are the
    journal's events of ``JOURNAL_KINDS``, in order."""
    submitted: set[str] = set()
    trades: set[str] = set()
    last: dict[str, str] = {}  # client id -> last journaled state
    for e in journaled:
        kind, cid = e["kind"], e.get("client_id")
        if kind == "order_submitted":
            submitted.add(str(cid))
        elif kind == "fill":
            trades.add(str(e.get("trade_id")))
        elif cid is not None:
            last[str(cid)] = kind.removeprefix("order_")
    out: list[tuple[int, int, Event]] = []  # (ts, rank, event): a stable, causal order
    owners: dict[str, str] = {}
    for o in orders:
        cid = o.request.client_id
        owners[cid] = str(o.request.strategy)
        if cid not in submitted:
            payload = submitted_payload(o.request) | {"recovered": True}
            out.append((o.created_ts, 0, ("order_submitted", o.created_ts, payload)))
        seen = last.get(cid)
        quiet = o.status in _NOT_YET_JOURNALED and seen in (None, OrderStatus.NEW.value)
        if not quiet and seen != o.status.value:
            payload = {
                "client_id": cid,
                "strategy": owners[cid],
                "symbol": o.request.symbol,
                "from": seen or OrderStatus.NEW.value,
                "event": "recovered",
                "reason": o.reason,
                "filled": str(o.filled),
                "recovered": True,
            }
            out.append((o.updated_ts, 2, (f"order_{o.status.value}", o.updated_ts, payload)))
    for f in fills:
        if f.trade_id not in trades:
            payload = fill_payload(f, owners.get(f.client_id, "")) | {"recovered": True}
            out.append((f.ts, 1, ("fill", f.ts, payload)))
    out.sort(key=lambda row: (row[0], row[1]))
    return [event for _, _, event in out]

"""The order book re-learned from the venue: after a restart (rebuilt from
the store, then every open order asked about by client id before any
decision) and against each full snapshot of the venue's open orders.

Every order not known terminal is asked about; one that was persisted but
maybe never sent (NEW, SUBMITTING) is exactly an unknown outcome, and none of
them is ever re-sent: the decision belonged to a process that is gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from bastion.execution import unknown
from bastion.execution.tracked import ManagedOrder
from bastion.model import Fill, OrderReport, OrderStatus
from bastion.model.money import ZERO

if TYPE_CHECKING:
    from bastion.execution.manager import OrderManager


def adopt_fills(m: OrderManager, fills: Iterable[Fill], owner: Mapping[str, str]) -> None:
    """Re-apply stored fills to positions (no journal, no store)."""
    for fill in fills:
        if fill.trade_id in m._seen_trades:
            continue
        m._seen_trades.add(fill.trade_id)
        sid = owner.get(fill.client_id, "")
        m._keep_fill(sid, fill)
        key = (sid, fill.symbol)
        m.attributed[key] = m.attributed.get(key, ZERO) + fill.signed_qty
        mo = m.orders.get(fill.client_id)
        if mo is not None:
            mo.notional += fill.qty * fill.price
            mo.fees += fill.fee


def recover(m: OrderManager, now: int) -> None:
    """Every order not known terminal is re-learned from the venue by client id."""
    for mo in list(m.working.values()):
        mo.no_resend = "recovered after a restart: the decision belongs to a past process"
        if mo.status in (OrderStatus.NEW, OrderStatus.SUBMITTING):
            # Persisted, maybe sent, maybe not: exactly the unknown case.
            mo.reason = "recovered after restart: outcome unknown"
            force(m, mo, OrderStatus.UNKNOWN, now)
        if mo.status is OrderStatus.UNKNOWN:
            unknown.resolve(m, mo, now)
        else:
            unknown.lookup(m, mo, now)
    m.blocked = {x.request.symbol for x in m.working.values() if x.status is OrderStatus.UNKNOWN}


def sync(m: OrderManager, open_orders: Iterable[OrderReport], now: int) -> None:
    """Working orders in line with a full snapshot of the venue's open orders
    (``OrderManager.sync``)."""
    listed = {o.client_id: o for o in open_orders}
    for cid, mo in list(m.working.items()):
        if mo.status in (OrderStatus.NEW, OrderStatus.UNKNOWN, OrderStatus.SUBMITTING):
            continue  # tick() owns these
        report = listed.get(cid)
        if report is not None:
            m.apply_report(report, now)
        else:
            unknown.lookup(m, mo, now)
    for cid, report in listed.items():
        if cid not in m._foreign and m.recall(cid) is None:
            m._foreign.add(cid)
            m._sink(
                "foreign_order",
                now,
                {
                    "client_id": cid,
                    "symbol": report.symbol,
                    "side": report.side.value,
                    "qty": str(report.qty),
                    "price": None if report.price is None else str(report.price),
                    "alert": True,
                },
            )


def force(m: OrderManager, mo: ManagedOrder, status: OrderStatus, now: int) -> None:
    """Set a recovered order's state outside the table (recovery only)."""
    old, mo.status = mo.status, status
    m._persist(mo, now)
    m._sink(
        "order_" + status.value,
        now,
        {
            "client_id": mo.request.client_id,
            "symbol": mo.request.symbol,
            "from": old.value,
            "event": "recovered",
            "reason": mo.reason,
        },
    )

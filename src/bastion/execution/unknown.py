"""A send that did not plainly succeed: retry it, or learn what became of it.

The half of the order manager that handles a failed send, classified in one
table (``outcomes.classify``): a definite refusal ends the order, a transient
one is retried under the same id after a backoff up to a hard cap, and an
unknown outcome is never re-sent blind: the venue is asked about the client id
until the answer is known (found, or *not placed*, consistently, past a grace
period), or the order is declared UNRESOLVED and alerted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bastion.execution.lifecycle import OrderEvent
from bastion.execution.outcomes import Outcome, classify
from bastion.execution.tracked import ManagedOrder
from bastion.model import OrderStatus
from bastion.venues.errors import RateLimited, VenueError

if TYPE_CHECKING:
    from bastion.execution.manager import OrderManager


def on_submit_error(m: OrderManager, mo: ManagedOrder, exc: BaseException, now: int) -> None:
    outcome = classify(exc)
    mo.reason = f"{type(exc).__name__}: {exc}"
    if outcome is Outcome.FAILED:
        m._move(mo, OrderEvent.REJECTED, now)
    elif outcome is Outcome.FAILED_TRANSIENT:
        schedule_retry(m, mo, exc, now)
    elif outcome is Outcome.LANDED:
        lookup(m, mo, now, missing_is_unknown=True)
    else:
        m._move(mo, OrderEvent.OUTCOME_UNKNOWN, now)
        m.blocked.add(mo.request.symbol)


def schedule_retry(m: OrderManager, mo: ManagedOrder, exc: BaseException, now: int) -> None:
    p = m.policy
    hint = exc.retry_after_s if isinstance(exc, RateLimited) else None
    delay = p.backoff_ms(mo.attempts, m._rng, None if hint is None else int(hint * 1000))
    if mo.attempts >= p.max_attempts or (now + delay) - mo.created_ts > p.max_total_delay_ms:
        mo.reason = f"retry cap after {mo.attempts} attempts: {mo.reason}"
        m._move(mo, OrderEvent.REJECTED, now)
        m._sink(
            "retry_cap",
            now,
            {"client_id": mo.request.client_id, "symbol": mo.request.symbol, "alert": True},
        )
        return
    mo.retry_at = now + delay
    m._move(mo, OrderEvent.RETRY_SCHEDULED, now)
    m._sink(
        "retry_scheduled",
        now,
        {"client_id": mo.request.client_id, "attempt": mo.attempts, "delay_ms": delay},
    )


def resolve(m: OrderManager, mo: ManagedOrder, now: int) -> None:
    """One attempt at learning what happened to an order of unknown outcome."""
    p = m.policy
    try:
        found = m._venue.fetch_order(mo.request.symbol, mo.request.client_id)
    except VenueError as exc:
        found, failed = None, str(exc)
    else:
        failed = ""
    if found is not None:
        mo.not_found = 0
        m.apply_report(found, now)
        m.catch_up_fills(mo.created_ts, now)
        m._sink(
            "order_resolved",
            now,
            {"client_id": mo.request.client_id, "status": found.status.value},
        )
        return
    age = now - mo.created_ts
    if not failed and age >= p.unknown_grace_ms:
        mo.not_found += 1
    if mo.not_found >= p.unknown_checks:
        mo.reason = "not placed: the venue has no order with this client id"
        m._move(mo, OrderEvent.NOT_FOUND, now)
        if mo.no_resend:
            mo.reason = f"not placed, and never re-sent: {mo.no_resend}"
            m._move(mo, OrderEvent.ABANDONED, now)
        elif age <= p.resend_if_younger_ms:
            # Same client id (a late twin would be refused as a duplicate), but
            # only once the engine's risk gate has reviewed it as a new send.
            mo.resend_due = True
        else:
            mo.reason = "not placed, and the decision is stale: dropped"
            m._move(mo, OrderEvent.ABANDONED, now)
        return
    if age > p.unresolved_after_ms and not mo.unresolved:
        mo.unresolved = True
        m._sink(
            "order_unresolved",
            now,
            {
                "client_id": mo.request.client_id,
                "symbol": mo.request.symbol,
                "age_ms": age,
                "last_error": failed,
                "alert": True,
            },
        )


def lookup(
    m: OrderManager, mo: ManagedOrder, now: int, *, missing_is_unknown: bool = False
) -> None:
    """Ask the venue about one order by client id and take its answer."""
    try:
        found = m._venue.fetch_order(mo.request.symbol, mo.request.client_id)
    except VenueError:
        found = None
    if found is not None:
        m.apply_report(found, now)
        m.catch_up_fills(mo.created_ts, now)
    elif missing_is_unknown and mo.status is OrderStatus.SUBMITTING:
        m._move(mo, OrderEvent.OUTCOME_UNKNOWN, now)
        m.blocked.add(mo.request.symbol)

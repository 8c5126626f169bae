"""The order lifecycle: one transition table, keyed by (state, event).

Everything that moves an order between states goes through ``transition``; an
event the table does not allow raises ``IllegalTransition`` and leaves the
order where it was. ``docs/order-lifecycle.md`` is generated from ``TABLE``.
"""

from __future__ import annotations

from enum import StrEnum

from bastion.model import OrderStatus as S


class OrderEvent(StrEnum):
    SUBMIT = "submit"  # persisted, about to be sent
    ACCEPTED = "accepted"  # the venue acknowledged it
    REJECTED = "rejected"  # the venue said no (definitely failed)
    OUTCOME_UNKNOWN = "outcome_unknown"  # timeout, disconnect, bad response
    NOT_FOUND = "not_found"  # resolution: the venue says it never saw it
    RETRY_SCHEDULED = "retry_scheduled"  # definitely failed, transient: send again later
    ABANDONED = "abandoned"  # not placed, and the decision is too old to act on now
    WITHHELD = "withheld"  # a kill or a halt came between the decision and the send
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCEL_REQUESTED = "cancel_requested"
    CANCEL_FAILED = "cancel_failed"  # the cancel was refused; the order is still live
    CANCELLED = "cancelled"
    EXPIRED = "expired"


_LIVE = (S.OPEN, S.PARTIALLY_FILLED, S.CANCEL_PENDING)

TABLE: dict[tuple[S, OrderEvent], S] = {
    (S.NEW, OrderEvent.SUBMIT): S.SUBMITTING,
    (S.SUBMITTING, OrderEvent.ACCEPTED): S.OPEN,
    (S.SUBMITTING, OrderEvent.REJECTED): S.REJECTED,
    (S.SUBMITTING, OrderEvent.OUTCOME_UNKNOWN): S.UNKNOWN,
    (S.UNKNOWN, OrderEvent.ACCEPTED): S.OPEN,
    # "Not placed" is the venue's word, not a guess: the order may be sent again
    # under the same client id (venue dedupe protects us) or abandoned.
    (S.UNKNOWN, OrderEvent.NOT_FOUND): S.NEW,
    (S.SUBMITTING, OrderEvent.RETRY_SCHEDULED): S.NEW,
    (S.NEW, OrderEvent.ABANDONED): S.EXPIRED,
    # Checked immediately before every send: never reached the venue, never will.
    (S.NEW, OrderEvent.WITHHELD): S.EXPIRED,
    (S.UNKNOWN, OrderEvent.REJECTED): S.REJECTED,
    (S.UNKNOWN, OrderEvent.OUTCOME_UNKNOWN): S.UNKNOWN,
    (S.OPEN, OrderEvent.ACCEPTED): S.OPEN,
    (S.PARTIALLY_FILLED, OrderEvent.ACCEPTED): S.PARTIALLY_FILLED,
    (S.CANCEL_PENDING, OrderEvent.ACCEPTED): S.CANCEL_PENDING,
    (S.OPEN, OrderEvent.CANCEL_REQUESTED): S.CANCEL_PENDING,
    (S.PARTIALLY_FILLED, OrderEvent.CANCEL_REQUESTED): S.CANCEL_PENDING,
    (S.CANCEL_PENDING, OrderEvent.CANCEL_REQUESTED): S.CANCEL_PENDING,
    (S.CANCEL_PENDING, OrderEvent.CANCEL_FAILED): S.OPEN,
    # A fill racing a cancel is normal: the order stays cancel-pending until
    # the venue says which won.
    (S.CANCEL_PENDING, OrderEvent.PARTIALLY_FILLED): S.CANCEL_PENDING,
}
for _state in (S.SUBMITTING, S.UNKNOWN, S.OPEN, S.PARTIALLY_FILLED):
    TABLE[(_state, OrderEvent.PARTIALLY_FILLED)] = S.PARTIALLY_FILLED
for _state in (S.SUBMITTING, S.UNKNOWN, *_LIVE):
    TABLE[(_state, OrderEvent.FILLED)] = S.FILLED
    TABLE[(_state, OrderEvent.CANCELLED)] = S.CANCELLED
    TABLE[(_state, OrderEvent.EXPIRED)] = S.EXPIRED
# Late duplicates of terminal news are harmless and absorbed.
for _terminal, _event in (
    (S.FILLED, OrderEvent.FILLED),
    (S.CANCELLED, OrderEvent.CANCELLED),
    (S.EXPIRED, OrderEvent.EXPIRED),
    (S.REJECTED, OrderEvent.REJECTED),
):
    TABLE[(_terminal, _event)] = _terminal


class IllegalTransition(Exception):
    """An event that the lifecycle does not allow in the order's current state."""

    def __init__(self, client_id: str, state: S, event: OrderEvent) -> None:
        super().__init__(f"order {client_id}: {event.value} is not allowed in state {state.value}")
        self.client_id = client_id
        self.state = state
        self.event = event


def transition(client_id: str, state: S, event: OrderEvent) -> S:
    """The state after ``event``; raises ``IllegalTransition`` if not allowed."""
    try:
        return TABLE[(state, event)]
    except KeyError:
        raise IllegalTransition(client_id, state, event) from None


def event_for_status(status: S) -> OrderEvent | None:
    """The lifecycle event a venue report of ``status`` stands for."""
    return _STATUS_EVENT.get(status)


_STATUS_EVENT = {
    S.OPEN: OrderEvent.ACCEPTED,
    S.PARTIALLY_FILLED: OrderEvent.PARTIALLY_FILLED,
    S.FILLED: OrderEvent.FILLED,
    S.CANCELLED: OrderEvent.CANCELLED,
    S.EXPIRED: OrderEvent.EXPIRED,
    S.REJECTED: OrderEvent.REJECTED,
}


def render_markdown() -> str:
    """The lifecycle as a Markdown table and a Mermaid diagram, from ``TABLE``."""
    lines = [
        "# Order lifecycle",
        "",
        "Generated from `bastion.execution.lifecycle.TABLE` by",
        "`python -m bastion.execution.lifecycle`; a test keeps this file in step.",
        "Any (state, event) pair not listed raises `IllegalTransition`.",
        "",
        "```mermaid",
        "stateDiagram-v2",
    ]
    for (state, event), new in TABLE.items():
        if state is not new:
            lines.append(f"    {state.value} --> {new.value}: {event.value}")
    lines += ["```", "", "| state | event | next |", "|---|---|---|"]
    for (state, event), new in sorted(
        TABLE.items(), key=lambda kv: (kv[0][0].value, kv[0][1].value)
    ):
        lines.append(f"| {state.value} | {event.value} | {new.value} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")

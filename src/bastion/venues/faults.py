"""A fault-injecting venue wrapper, for tests and fault campaigns.

It stands between bastion and any venue and makes it misbehave the way real
exchanges do: time out before or *after* accepting an order, refuse with a
rate limit, answer 5xx or garbage, drop the private stream, and deliver fills
late, twice or out of order. Faults are queued per method and consumed in
order, so a test states exactly which call fails and how; stream faults apply
to ``drain_events``. Everything is deterministic for a seed.

``sent`` records every order that reached the inner venue, which is what the
"at most one order per intent" invariant is checked against.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from bastion.model import AccountSnapshot, Fill, Instrument, OrderReport, OrderRequest
from bastion.venues.errors import (
    BadResponse,
    InvalidOrder,
    RateLimited,
    VenueTimeout,
    VenueUnavailable,
)
from bastion.venues.port import FillReceived, Venue, VenueEvent

T = TypeVar("T")


class Fault(StrEnum):
    TIMEOUT_BEFORE = "timeout_before"  # the request never reached the venue
    TIMEOUT_AFTER = "timeout_after"  # the venue acted, the answer was lost
    REJECT = "reject"  # the venue said no
    RATE_LIMIT = "rate_limit"  # 429 with retry-after, nothing done
    SERVER_ERROR = "server_error"  # 5xx, nothing done
    BAD_RESPONSE = "bad_response"  # the venue acted, the answer did not parse


class StreamFault(StrEnum):
    DISCONNECT = "disconnect"  # events lost; only a snapshot recovers them
    DELAY = "delay"  # events held back for ``n`` drains
    DUPLICATE = "duplicate"  # every fill delivered twice
    REORDER = "reorder"  # events shuffled


@dataclass(frozen=True, slots=True)
class _StreamRule:
    fault: StreamFault
    drains: int  # how many drains it lasts
    hold: int = 0


class FaultyVenue:
    """Wraps ``inner``; call ``fail(method, fault)`` to queue faults."""

    def __init__(self, inner: Venue, *, seed: int = 0, retry_after_s: float = 1.0) -> None:
        self.inner = inner
        self._faults: dict[str, deque[Fault]] = {}
        self._stream: deque[_StreamRule] = deque()
        self._held: list[tuple[int, VenueEvent]] = []  # (release at drain n, event)
        self._drains = 0
        self._rng = random.Random(seed)
        self.retry_after_s = retry_after_s
        self.sent: list[str] = []  # client ids of submits that reached the inner venue
        # Submits attempted for a client id the venue had already accepted: a
        # blind retry, even when the venue's duplicate check saves the day.
        self.resent_after_accept: list[str] = []
        self.calls: list[str] = []  # every call, in order, for assertions

    # ------------------------------------------------------------ configuring
    def fail(self, method: str, *faults: Fault) -> None:
        """Queue faults for the next calls of ``method`` (one call each)."""
        self._faults.setdefault(method, deque()).extend(faults)

    def stream(self, fault: StreamFault, *, drains: int = 1, hold: int = 1) -> None:
        """Apply a private-stream fault to the next ``drains`` calls of ``drain_events``."""
        self._stream.append(_StreamRule(fault, drains, hold))

    def pending(self, method: str) -> int:
        return len(self._faults.get(method, ()))

    @property
    def version(self) -> int | None:
        """Forward the inner venue's change counter when it has one."""
        return getattr(self.inner, "version", None)

    # --------------------------------------------------------------- the port
    def instruments(self) -> Mapping[str, Instrument]:
        return self.inner.instruments()

    def submit(self, request: OrderRequest) -> OrderReport:
        if request.client_id in self.sent:
            self.resent_after_accept.append(request.client_id)

        def call() -> OrderReport:
            report = self.inner.submit(request)
            self.sent.append(request.client_id)
            return report

        return self._call("submit", call)

    def cancel(self, symbol: str, client_id: str) -> OrderReport:
        return self._call("cancel", lambda: self.inner.cancel(symbol, client_id))

    def fetch_order(self, symbol: str, client_id: str) -> OrderReport | None:
        return self._call("fetch_order", lambda: self.inner.fetch_order(symbol, client_id))

    def fetch_open_orders(self, symbol: str | None = None) -> Sequence[OrderReport]:
        return self._call("fetch_open_orders", lambda: self.inner.fetch_open_orders(symbol))

    def fetch_fills(self, since_ts: int = 0, symbol: str | None = None) -> Sequence[Fill]:
        return self._call("fetch_fills", lambda: self.inner.fetch_fills(since_ts, symbol))

    def fetch_account(self) -> AccountSnapshot:
        return self._call("fetch_account", self.inner.fetch_account)

    def drain_events(self) -> Sequence[VenueEvent]:
        self._drains += 1
        events = list(self.inner.drain_events())
        rule = self._stream[0] if self._stream else None
        if rule is not None:
            events = self._apply(rule, events)
            if rule.drains <= 1:
                self._stream.popleft()
            else:
                self._stream[0] = _StreamRule(rule.fault, rule.drains - 1, rule.hold)
        due = [e for at, e in self._held if at <= self._drains]
        self._held = [(at, e) for at, e in self._held if at > self._drains]
        return due + events

    # ---------------------------------------------------------------- helpers
    def _apply(self, rule: _StreamRule, events: list[VenueEvent]) -> list[VenueEvent]:
        if rule.fault is StreamFault.DISCONNECT:
            return []
        if rule.fault is StreamFault.DELAY:
            self._held.extend((self._drains + rule.hold, e) for e in events)
            return []
        if rule.fault is StreamFault.DUPLICATE:
            out: list[VenueEvent] = []
            for e in events:
                out.append(e)
                if isinstance(e, FillReceived):
                    out.append(e)
            return out
        shuffled = list(events)
        self._rng.shuffle(shuffled)
        return shuffled

    def _call(self, method: str, call: Callable[[], T]) -> T:
        self.calls.append(method)
        queue = self._faults.get(method)
        fault = queue.popleft() if queue else None
        if fault is None:
            return call()
        if fault is Fault.TIMEOUT_BEFORE:
            raise VenueTimeout(f"{method}: timed out (injected, before the venue saw it)")
        if fault is Fault.REJECT:
            raise InvalidOrder(f"{method}: refused (injected)")
        if fault is Fault.RATE_LIMIT:
            raise RateLimited(f"{method}: too many requests (injected)", self.retry_after_s)
        if fault is Fault.SERVER_ERROR:
            raise VenueUnavailable(f"{method}: 503 (injected)")
        call()  # the venue acts ...
        if fault is Fault.TIMEOUT_AFTER:  # ... and the answer is lost
            raise VenueTimeout(f"{method}: timed out (injected, after the venue acted)")
        raise BadResponse(f"{method}: unparseable response (injected, after the venue acted)")

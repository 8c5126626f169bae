"""A compact record of the exchange calls a venue made: latency, errors by
class, the rate-limit weight the exchange reported.

The venue notes every call here (a few hundred nanoseconds: an append under a
lock); once per cycle the live loop drains it into the journal's
``cycle_stats`` event, which is where the dashboard and the metrics read venue
health from. Nothing here does I/O.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

MAX_SAMPLES = 200  # per drain: a cycle makes a handful of calls


class CallLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latency: list[float] = []
        self._errors: Counter[str] = Counter()
        self._calls = 0
        self.weight: int | None = None

    def note(self, seconds: float, error: str | None, weight: int | None) -> None:
        with self._lock:
            self._calls += 1
            if len(self._latency) < MAX_SAMPLES:
                self._latency.append(round(seconds * 1000, 2))
            if error is not None:
                self._errors[error] += 1
            if weight is not None:
                self.weight = weight

    def drain(self) -> dict[str, Any]:
        """The calls since the last drain, as the journal stores them."""
        with self._lock:
            out: dict[str, Any] = {"calls": self._calls, "latency_ms": self._latency}
            if self._errors:
                out["errors"] = dict(self._errors)
                out["http_429"] = self._errors.get("RateLimited", 0)
            if self.weight is not None:
                out["weight"] = self.weight
            self._latency, self._errors, self._calls = [], Counter(), 0
        return out


def used_weight(headers: Any) -> int | None:
    """Binance's ``X-MBX-USED-WEIGHT-1M`` from a reply's headers, if present."""
    if not headers:
        return None
    for name in ("X-MBX-USED-WEIGHT-1M", "x-mbx-used-weight-1m"):
        value = headers.get(name)
        if value is not None:
            try:
                return int(value)
            except ValueError:
                return None
    return None

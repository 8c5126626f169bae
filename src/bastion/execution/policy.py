"""How patient execution is: retries, backoff, and resolving unknown outcomes.

Numbers, not code paths: the manager reads them, tests shrink them. All
durations are milliseconds of the clock passed in, never wall-clock sleeps,
so a backtest and a live run apply the same policy.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionPolicy:
    # Retries apply only to *definitely failed, transient* refusals (rate limits).
    max_attempts: int = 5
    backoff_base_ms: int = 500
    backoff_max_ms: int = 30_000
    max_total_delay_ms: int = 120_000
    jitter: float = 0.2
    # Unknown outcomes: looked up by client id, never re-sent blind.
    unknown_grace_ms: int = 3_000  # a "not found" only counts once the order is this old
    unknown_checks: int = 2  # consecutive "not found" answers that prove "not placed"
    unresolved_after_ms: int = 60_000  # then alert as UNRESOLVED (the symbol stays blocked)
    resend_if_younger_ms: int = 10_000  # a not-placed order is re-sent only while fresh

    def backoff_ms(self, attempt: int, rng: random.Random, hint_ms: int | None = None) -> int:
        """Delay before attempt ``attempt + 1``: exponential, capped, jittered, and
        never shorter than what the venue asked for (Retry-After)."""
        base = min(self.backoff_max_ms, self.backoff_base_ms * (2 ** max(0, attempt - 1)))
        delay = base * (1 + self.jitter * (2 * rng.random() - 1))
        if hint_ms is not None:
            delay = max(delay, hint_ms)
        return int(delay)

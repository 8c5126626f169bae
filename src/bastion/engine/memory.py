"""Garbage collection on the live bot's schedule, not the interpreter's.

A dropped WebSocket leaves its ccxt client behind as a web of reference
cycles (the ping task's exception holds a traceback, whose frames hold the
client, which holds the task), and with it the connection's zlib state: about
330 KB of C memory per connection for permessage-deflate, which the cyclic
collector's heuristics cannot see. CPython runs a full collection only after
enough objects have survived into the oldest generation, which in a bot that
allocates little that lives was every many minutes: the soak (issue 17)
found 14 dead connections' compressors alive after three minutes of stream
drops, and the bot's memory in use rising by 70-110 MB an hour.

So the live loop asks for a full collection itself, right after a cycle (the
pause falls between decisions, never between a tick and its order), at most
every ``every_s``. Freezing what start-up built first (modules, markets,
configuration: about 300,000 objects, which are never garbage) keeps each
collection to what the run has made since: 2-15 ms on the soak, against
80-200 ms for a full collection of everything.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Collector:
    """``freeze()`` once start-up is done; ``after_cycle()`` after every cycle."""

    every_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    collections: int = 0
    last_ms: float = 0.0  # the newest collection's pause
    max_ms: float = 0.0
    freed: int = 0  # unreachable objects found, all collections
    frozen: int = 0
    _last: float | None = field(default=None, repr=False)

    def freeze(self) -> None:
        """Collect what start-up left behind, then move everything alive into the
        permanent generation: later collections do not scan it again."""
        gc.collect()
        gc.freeze()
        self.frozen = gc.get_freeze_count()

    def after_cycle(self) -> bool:
        """A full collection if ``every_s`` has passed since the last (the first
        call collects at once). True when it collected."""
        now = self.clock()
        if self._last is not None and now - self._last < self.every_s:
            return False
        self._last = now
        t0 = time.perf_counter()
        self.freed += gc.collect()
        self.last_ms = (time.perf_counter() - t0) * 1000
        self.max_ms = max(self.max_ms, self.last_ms)
        self.collections += 1
        return True

    def sample(self) -> dict[str, float | int]:
        """For the cycle's health sample: what the collections cost."""
        return {
            "collections": self.collections,
            "last_ms": round(self.last_ms, 3),
            "max_ms": round(self.max_ms, 3),
            "frozen": self.frozen,
        }

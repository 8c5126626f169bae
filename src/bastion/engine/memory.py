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

What the collections free, glibc's allocator must also give back. By default
it does not: a freed block above its mmap threshold raises the threshold, so
the event loop's 256 KB socket reads then land in the heap and leave holes
there when they shrink, and each busy thread gets an arena of its own to
fragment (the soak: memory free inside the arenas rose 4 to 8 MB in four
minutes while memory in use stayed flat). ``tune_allocator`` fixes the
threshold (large blocks are mapped and unmapped, never holes) and caps the
arenas at two; each collection ends with ``malloc_trim``. Only where the C
library is glibc; elsewhere these are no-ops.
"""

from __future__ import annotations

import ctypes
import gc
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameters (malloc.h)
M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, kept fixed
ARENA_MAX = 2


@cache
def _glibc() -> Any | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def tune_allocator() -> dict[str, int]:
    """For a process that runs for months: glibc's mmap threshold fixed and its
    arenas capped, unless the operator set ``MALLOC_MMAP_THRESHOLD_`` or
    ``MALLOC_ARENA_MAX`` (theirs win). Call before the bot's threads start.
    Returns what was set (nothing off glibc)."""
    libc = _glibc()
    if libc is None:
        return {}
    done: dict[str, int] = {}
    for env, param, value in (
        ("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        ("MALLOC_ARENA_MAX", M_ARENA_MAX, ARENA_MAX),
    ):
        if env not in os.environ and libc.mallopt(param, value) == 1:
            done[env] = value
    return done


def trim() -> None:
    """Hand the allocator's free pages back to the system (glibc only)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


@dataclass
class Collector:
    """``freeze()`` once start-up is done, ``after_cycle()`` after every cycle,
    ``thaw()`` when the run ends."""

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

    def thaw(self) -> None:
        """The run is over: its frozen objects go back to being collected, so a
        process that goes on (a test, a service restarting the bot) collects
        as before."""
        gc.unfreeze()

    def after_cycle(self) -> bool:
        """A full collection if ``every_s`` has passed since the last (the first
        call collects at once). True when it collected."""
        now = self.clock()
        if self._last is not None and now - self._last < self.every_s:
            return False
        self._last = now
        t0 = time.perf_counter()
        self.freed += gc.collect()
        trim()
        self.last_ms = (time.perf_counter() - t0) * 1000
        self.max_ms = max(self.max_ms, self.last_ms)
        self.collections += 1
        return True

    def sample(self) -> dict[str, float | int]:
        """For the cycle's health sample: what the collections (and the trim
        after each) cost."""
        return {
            "collections": self.collections,
            "last_ms": round(self.last_ms, 3),
            "max_ms": round(self.max_ms, 3),
            "frozen": self.frozen,
        }

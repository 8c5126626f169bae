"""The wall clock, for shells only.

Cores never read a clock: the cycle, risk, execution and the reconciler are
handed ``now``. The shells that drive them (the live loop, the kill switch,
the venue's and feeds' journal stamps, the CLI) take it from here, so there is
one definition of "now in epoch milliseconds, UTC". Strategies may not import
this module (an import-linter contract).
"""

from __future__ import annotations

import time


def wall_ms() -> int:
    """Milliseconds since the Unix epoch, UTC."""
    return time.time_ns() // 1_000_000

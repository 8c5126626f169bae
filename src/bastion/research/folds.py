"""Walk-forward folds: which bars each training and test window holds, and
the test windows' equity strung together.

Test windows follow each other without overlap, each ``test`` long, the first
starting ``train`` after the first bar; a last window shorter than ``test``
is left out (it would be judged on less data than the others). A training
window is the ``train`` before its test window (rolling) or everything from
the first bar (``anchored``). Windows are half-open ``[start, end)`` in ms
UTC on the bars' open times, so a test window's first bar is never in its
training window: the property the walk-forward test checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Fold:
    index: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int


def make_folds(
    first_ts: int, end_ts: int, *, train_ms: int, test_ms: int, anchored: bool = False
) -> list[Fold]:
    """The folds that fit in ``[first_ts, end_ts)``; ``ValueError`` if none does."""
    if train_ms <= 0 or test_ms <= 0:
        raise ValueError("--train and --test must be positive durations")
    folds: list[Fold] = []
    start = first_ts + train_ms
    while start + test_ms <= end_ts:
        folds.append(
            Fold(
                index=len(folds),
                train_start=first_ts if anchored else start - train_ms,
                train_end=start,
                test_start=start,
                test_end=start + test_ms,
            )
        )
        start += test_ms
    if not folds:
        span = (end_ts - first_ts) / DAY_MS
        need = (train_ms + test_ms) / DAY_MS
        raise ValueError(
            f"the data spans {span:.1f} days; --train plus --test need {need:g} days "
            "for a single fold"
        )
    return folds


def stitch(
    curves: Sequence[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], float]],
    initial: float,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Out-of-sample equity as one account would have had it: each test window's
    curve ``(ts, equity, its starting equity)`` scaled to start where the previous
    one ended, from ``initial``. Compounding, since each window reinvests."""
    ts_parts: list[npt.NDArray[np.int64]] = []
    eq_parts: list[npt.NDArray[np.float64]] = []
    level = initial
    for ts, eq, start in curves:
        if len(eq) == 0 or start <= 0:
            continue
        scaled = np.asarray(eq, dtype=np.float64) * (level / start)
        ts_parts.append(np.asarray(ts, dtype=np.int64))
        eq_parts.append(scaled)
        level = float(scaled[-1])
    if not ts_parts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    return np.concatenate(ts_parts), np.concatenate(eq_parts)

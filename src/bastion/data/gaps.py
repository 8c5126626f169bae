"""Find where bars are missing, without pretending they are not.

A missing bar means *no data*: the exchange was down, the recorder lost its
connection, or nothing traded. Filling it with a flat bar would invent a
market that did not move, so gaps are reported and left alone; the data gate
and the backtest decide what a gap means for trading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from bastion.model.bars import BarSeries, IntArray


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    """Bars missing between two open times, both exclusive.

    ``after_ts`` is the open time of the bar before the gap and ``next_ts`` of
    the bar after it, so ``missing_bars`` bars would open strictly between
    them. For a gap at the edge of a requested window the neighbour outside
    the window is implied (the series does not hold it).
    """

    after_ts: int
    next_ts: int
    missing_bars: int

    @property
    def span_ms(self) -> int:
        """Time from the open of the bar before the gap to the open of the one after."""
        return self.next_ts - self.after_ts


class GapSummary(TypedDict):
    """What a status line or report shows about a series' gaps."""

    bars: int
    count: int
    missing_bars: int
    largest_missing_bars: int
    largest_after_ts: int | None
    coverage: float


def find_gaps(
    series: BarSeries, *, start_ts: int | None = None, end_ts: int | None = None
) -> list[Gap]:
    """Every run of missing bars, in time order; nothing is filled.

    A step between rows longer than ``interval_ms`` is a gap of
    ``ceil(step / interval_ms) - 1`` bars. Given a window ``[start_ts, end_ts)``
    (bar open times), bars of the series' grid missing at its start or end are
    reported too: a series that starts late has a gap, even if it has no hole.
    """
    interval = series.interval_ms
    ts = series.ts
    if len(ts) == 0:
        if start_ts is None or end_ts is None or end_ts <= start_ts:
            return []
        missing = -(-(end_ts - start_ts) // interval)
        return [
            Gap(
                after_ts=start_ts - interval,
                next_ts=start_ts + missing * interval,
                missing_bars=missing,
            )
        ]
    gaps: list[Gap] = []
    first, last = int(ts[0]), int(ts[-1])
    if start_ts is not None and (lead := (first - start_ts) // interval) > 0:
        gaps.append(Gap(after_ts=first - (lead + 1) * interval, next_ts=first, missing_bars=lead))
    steps = np.diff(ts)
    where = np.flatnonzero(steps > interval)
    counts = (steps[where] - 1) // interval
    gaps.extend(
        Gap(after_ts=int(ts[i]), next_ts=int(ts[i + 1]), missing_bars=int(n))
        for i, n in zip(where, counts, strict=True)
    )
    if end_ts is not None and (trail := (end_ts - last - 1) // interval) > 0:
        gaps.append(Gap(after_ts=last, next_ts=last + (trail + 1) * interval, missing_bars=trail))
    return gaps


def gap_summary(
    series: BarSeries, *, start_ts: int | None = None, end_ts: int | None = None
) -> GapSummary:
    """Counts for display: how many gaps, how many bars missing, the largest one."""
    gaps = find_gaps(series, start_ts=start_ts, end_ts=end_ts)
    missing = sum(gap.missing_bars for gap in gaps)
    largest = max(gaps, key=lambda gap: gap.missing_bars, default=None)
    expected = len(series) + missing
    return GapSummary(
        bars=len(series),
        count=len(gaps),
        missing_bars=missing,
        largest_missing_bars=largest.missing_bars if largest else 0,
        largest_after_ts=largest.after_ts if largest else None,
        coverage=len(series) / expected if expected else 1.0,
    )


def modal_step(ts: IntArray) -> int | None:
    """The most common positive step between rows (the smallest on a tie), or ``None``.

    This is the bar interval of a file that does not state one: gaps make some
    steps longer, but in real data most bars follow their neighbour directly.
    """
    steps = np.diff(ts)
    steps = steps[steps > 0]
    if steps.size == 0:
        return None
    if (steps == steps[0]).all():
        return int(steps[0])
    values, counts = np.unique(steps, return_counts=True)
    return int(values[np.argmax(counts)])

"""Aggregate bars to a coarser interval, keeping gaps as gaps.

Buckets are aligned to multiples of the target interval since the Unix epoch
(UTC), as exchanges align theirs, so an hourly bar built here opens on the
hour and matches the exchange's own. A bucket with no source bars is not
created: inventing a flat bar there would hide that the data is missing.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

from bastion.data.paths import format_interval
from bastion.model.bars import BarSeries, FloatArray, IntArray

_A = TypeVar("_A", FloatArray, IntArray)


def resample(
    series: BarSeries,
    interval_ms: int,
    *,
    origin_ms: int = 0,
    drop_partial: bool = False,
) -> BarSeries:
    """Bars of ``interval_ms`` from finer ones: first open, max high, min low,
    last close, summed volume.

    ``interval_ms`` must be a whole multiple of the series' interval, or bars
    would straddle buckets. ``origin_ms`` shifts the bucket grid; weekly bars
    aligned on Monday 00:00 UTC need ``origin_ms=4 * 86_400_000`` because the
    epoch fell on a Thursday. ``drop_partial`` leaves out buckets missing any
    source bar (a gap inside, or the first and last bucket of a file that
    starts or ends mid-bucket); by default they are kept, built from the bars
    that exist.
    """
    source = series.interval_ms
    if interval_ms <= 0 or interval_ms % source:
        raise ValueError(
            f"resample target interval_ms={interval_ms}: expected a positive multiple "
            f"of the series' interval ({source} ms, {format_interval(source)})"
        )
    if interval_ms == source:
        return series
    ts = series.ts
    bucket = ts - (ts - origin_ms) % interval_ms  # numpy's % floors, so pre-epoch is fine too
    if len(ts):
        starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    else:
        starts = np.empty(0, dtype=np.intp)
    ends = np.append(starts[1:], len(ts)) if len(ts) else starts
    high = _per_bucket(np.maximum, series.high, starts)
    low = _per_bucket(np.minimum, series.low, starts)
    volume = _per_bucket(np.add, series.volume, starts)
    if drop_partial:
        full = (ends - starts) == interval_ms // source
        starts, ends, high, low, volume = (a[full] for a in (starts, ends, high, low, volume))
    return BarSeries(
        symbol=series.symbol,
        interval_ms=interval_ms,
        ts=_read_only(bucket[starts]),
        open=_read_only(series.open[starts]),
        high=_read_only(high),
        low=_read_only(low),
        close=_read_only(series.close[ends - 1]),
        volume=_read_only(volume),
        source=f"{series.source}+resample:{format_interval(interval_ms)}",
        synthetic=series.synthetic,
    )


def _per_bucket(ufunc: np.ufunc, values: FloatArray, starts: npt.NDArray[np.intp]) -> FloatArray:
    """``ufunc`` reduced over each bucket (``starts[k]`` up to the next start)."""
    if len(starts) == 0:
        return values[:0].copy()
    return np.asarray(ufunc.reduceat(values, starts), dtype=np.float64)


def _read_only(array: _A) -> _A:
    """Like loaded bars, resampled ones are facts: in-place edits should fail loudly."""
    array.flags.writeable = False
    return array

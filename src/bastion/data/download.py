"""``bastion download``: an exchange's bar history into the local store, through
ccxt's ``fetch_ohlcv``.

Paginated by time (each page starts one bar after the last row received, so
pages neither overlap nor skip), throttled by ccxt's own rate limiter (kept
on: the time spent waiting on it is measured and reported), and flushed to
the store every few pages, so an interrupted download keeps what it had and a
second run resumes after the newest stored bar. Rows already stored win and
repeated rows are dropped (``store.write_bars``): a resumed download never
duplicates a bar. Only complete bars are kept (the exchange's current bar is
still moving). A hole in the exchange's history stays a hole: it is reported
as a gap, never filled.

``plan_ranges`` (what is left to fetch) is pure; ``download`` is the shell.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from bastion.data import catalog
from bastion.data.store import SeriesKey, write_bars

Progress = Callable[[int, int], None]  # (newest bar fetched, end of the span)


@dataclass(slots=True)
class DownloadReport:
    key: str
    start: int
    end: int
    pages: int = 0
    fetched: int = 0
    added: int = 0
    seconds: float = 0.0
    limiter_wait_s: float = 0.0
    resumed_from: int | None = None
    gaps: list[dict[str, int]] = field(default_factory=list)
    rows: int = 0

    @property
    def bars_per_s(self) -> float:
        return self.fetched / self.seconds if self.seconds > 0 else 0.0

    @property
    def limiter_share(self) -> float:
        return self.limiter_wait_s / self.seconds if self.seconds > 0 else 0.0


def plan_ranges(
    start: int, end: int, interval_ms: int, stored: tuple[int, int] | None
) -> list[tuple[int, int]]:
    """The spans of ``[start, end)`` still to fetch, given the stored ``(first, last)``.

    Stored rows are contiguous by construction except for the exchange's own
    gaps, which are not asked again: only what lies before the first stored
    bar and after the last one is fetched."""
    if end <= start:
        return []
    if stored is None:
        return [(start, end)]
    first, last = stored
    out: list[tuple[int, int]] = []
    if start < first:
        out.append((start, min(first, end)))
    if last + interval_ms < end:
        out.append((max(start, last + interval_ms), end))
    return out


def page_table(rows: list[list[Any]], lo: int, hi: int) -> pa.Table:
    """ccxt OHLCV rows ``[ts, o, h, l, c, v]`` inside ``[lo, hi)`` as a table."""
    kept = [r for r in rows if r[0] is not None and lo <= int(r[0]) < hi]
    return pa.table(
        {
            "ts": pa.array([int(r[0]) for r in kept], pa.int64()),
            **{
                name: pa.array([float(r[i]) for r in kept], pa.float64())
                for i, name in enumerate(("open", "high", "low", "close", "volume"), start=1)
            },
        }
    )


class _TimedThrottle:
    """Wraps a ccxt client's ``throttle`` to add up the time spent waiting on it."""

    def __init__(self, ex: Any) -> None:
        self.waited = 0.0
        self._inner = ex.throttle

        async def throttle(cost: Any = None) -> Any:
            t0 = time.perf_counter()
            try:
                return await self._inner(cost)
            finally:
                self.waited += time.perf_counter() - t0

        ex.throttle = throttle


async def download(
    ex: Any,
    root: Path,
    key: SeriesKey,
    start: int,
    end: int,
    *,
    now: int,
    limit: int = 1000,
    flush_every: int = 10,
    progress: Progress | None = None,
) -> DownloadReport:
    """Fetch ``key``'s bars in ``[start, end)`` (capped at the last complete bar
    before ``now``) into the store at ``root``; resumes where the store ends."""
    iv = key.interval_ms
    end = min(end, now - now % iv)  # complete bars only: the current one still moves
    report = DownloadReport(key=str(key), start=start, end=end)
    before = catalog.describe(root, key)
    ranges = plan_ranges(start, end, iv, (before.first_ts, before.last_ts) if before else None)
    if before is not None and ranges:
        report.resumed_from = ranges[-1][0]
    timer = _TimedThrottle(ex)
    t0 = time.perf_counter()
    pending: list[pa.Table] = []

    def flush() -> None:
        if pending:
            report.added += write_bars(root, key, pa.concat_tables(pending))
            pending.clear()
            catalog.update(root, key, [start, end])

    try:
        for lo, hi in ranges:
            since = lo
            while since < hi:
                rows = await ex.fetch_ohlcv(
                    key.symbol, key.timeframe, since=since, limit=limit, params={"until": hi - 1}
                )
                report.pages += 1
                page = page_table(rows, since, hi)
                if page.num_rows == 0:
                    break  # nothing more in this span: the exchange's history ends here
                pending.append(page)
                report.fetched += page.num_rows
                since = int(page.column("ts")[-1].as_py()) + iv
                if progress is not None:
                    progress(since, hi)
                if report.pages % flush_every == 0:
                    flush()
    finally:
        flush()  # an interruption keeps every page already received
        report.seconds = time.perf_counter() - t0
        report.limiter_wait_s = timer.waited
    entry = catalog.update(root, key, [start, end])
    if entry is not None:
        report.rows = entry.rows
        report.gaps = [g for g in entry.gaps if start <= g["next_ts"] and g["after_ts"] < end]
    return report

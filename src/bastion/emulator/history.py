"""Kline history the emulator serves from bar files, as an exchange serves its past.

The emulator's own klines come from the trades it replays (and keep a day or
so); a real exchange also answers ``GET /api/v3/klines`` for years back. Bar
files given as history (``EmulatorConfig.history_paths``, or the synthetic
``history_bars`` ending where the synthetic market starts) are served exactly
as stored, at their own timestamps, with Binance's paging rules (``startTime``
and ``endTime`` inclusive on the open time, at most ``limit`` rows, the
newest ``limit`` when no start is given). A missing bar in the file is missing
in the reply: the emulator, like the exchange, never fills one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from bastion.emulator.binance_format import exchange_symbol
from bastion.model.bars import BarSeries


class KlineHistory:
    def __init__(self, series: Iterable[BarSeries] = ()) -> None:
        self._series: dict[tuple[str, int], BarSeries] = {}
        for s in series:
            self.add(s)

    def add(self, series: BarSeries) -> None:
        self._series[(exchange_symbol(series.symbol), series.interval_ms)] = series

    def last_ts(self, symbol: str, interval_ms: int) -> int | None:
        s = self._series.get((symbol, interval_ms))
        return int(s.ts[-1]) if s is not None and len(s) else None

    def rows(
        self, symbol: str, interval_ms: int, start: int | None, end: int | None, limit: int
    ) -> list[list[Any]] | None:
        """Binance kline rows, or None when no history of that symbol and interval."""
        s = self._series.get((symbol, interval_ms))
        if s is None:
            return None
        lo = 0 if start is None else int(np.searchsorted(s.ts, start, side="left"))
        hi = len(s) if end is None else int(np.searchsorted(s.ts, end, side="right"))
        lo, hi = (lo, min(hi, lo + limit)) if start is not None else (max(lo, hi - limit), hi)
        out: list[list[Any]] = []
        for i in range(lo, hi):
            ts = int(s.ts[i])
            o, h, low, c, v = (float(a[i]) for a in (s.open, s.high, s.low, s.close, s.volume))
            out.append(
                [ts, repr(o), repr(h), repr(low), repr(c), repr(v), ts + interval_ms - 1,
                 repr(v * c), 0, "0", "0", "0"]
            )  # fmt: skip
        return out


def synthetic_history(symbol: str, n: int, now_ms: int, seed: int) -> BarSeries:
    """``n`` one-minute bars of seeded random walk ending just before ``now_ms``, at the
    price the synthetic market starts from, so a bot can warm up on a fresh emulator."""
    from bastion.data.synthetic import random_walk_bars
    from bastion.emulator.market import default_price

    end = now_ms - now_ms % 60_000
    walk = random_walk_bars(n, seed=seed, symbol=symbol, start_ts=end - n * 60_000)
    k = default_price(symbol) / float(walk.close[-1])
    return BarSeries(
        symbol=symbol, interval_ms=60_000, ts=walk.ts, open=walk.open * k, high=walk.high * k,
        low=walk.low * k, close=walk.close * k, volume=walk.volume, source="synthetic history",
        synthetic=True,
    )  # fmt: skip

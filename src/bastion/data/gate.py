"""The data gate: the only way market data reaches the view.

It drops duplicates and late bars (journaled, never silently), marks a gap as
*no data* (the bar after a gap carries ``gap_ms``; nothing is interpolated),
updates indicators, and at each decision marks every symbol whose newest data
is older than ``max_age_ms`` as stale, which the risk gate reads as "no new
exposure here".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bastion.model.indicators import IndicatorSpec
from bastion.model.market import BookTop
from bastion.model.view import MarketView, PastBar, SymbolView

Sink = Callable[[str, int, dict[str, Any]], None]


class DataGate:
    def __init__(
        self,
        intervals: Mapping[str, int],
        *,
        max_age_ms: int,
        sink: Sink,
        indicators: Mapping[str, Iterable[IndicatorSpec]] | None = None,
    ) -> None:
        self.max_age_ms = max_age_ms
        self._sink = sink
        specs = indicators or {}
        self.view = MarketView(
            {s: SymbolView(s, iv, specs.get(s, ())) for s, iv in intervals.items()}
        )
        self.rejected = 0

    def on_bar(
        self, symbol: str, ts: int, o: float, h: float, low: float, c: float, v: float
    ) -> bool:
        """Take one completed bar. Returns False if it was refused (duplicate or late)."""
        sv = self.view._symbols[symbol]  # the dict itself: this runs for every bar
        if sv.bars:
            step = ts - sv.ts
            if step <= 0:
                self.rejected += 1
                why = "duplicate" if step == 0 else "late"
                self._sink("bar_refused", ts, {"symbol": symbol, "why": why, "newest": sv.ts})
                return False
            if step > sv.interval_ms:
                sv.gaps += 1
                sv.gap_ms = step - sv.interval_ms
                self._sink(
                    "data_gap",
                    ts,
                    {
                        "symbol": symbol,
                        "after": sv.ts,
                        "missing_bars": sv.gap_ms // sv.interval_ms,
                    },
                )
            elif sv.gap_ms:
                sv.gap_ms = 0
        sv.ts = ts
        sv.data_ts = ts + sv.interval_ms
        sv.open = o
        sv.high = h
        sv.low = low
        sv.close = c
        sv.volume = v
        sv.bars += 1
        for ind in sv._indicators.values():
            ind.update(o, h, low, c, v)
        if sv._history is not None:
            sv._history.append(PastBar(ts, o, h, low, c, v))
        return True

    def on_book(self, symbol: str, top: BookTop) -> None:
        """The L2 book's top for the next decision. A book that cannot be trusted
        (out of sequence, crossed, stale) still shows, flagged, but lends the
        view no bid or ask: a price from a broken book is worse than none."""
        sv = self.view._symbols[symbol]
        sv.book = top
        usable = top.usable
        sv.bid = top.bid if usable else None
        sv.ask = top.ask if usable else None

    def view_at(self, now: int) -> MarketView:
        """The view as of decision time ``now``, with staleness marked."""
        view = self.view
        view.now = now
        limit = self.max_age_ms
        for sv in view._symbols.values():
            sv.stale = sv.bars == 0 or now - sv.data_ts > limit
        return view

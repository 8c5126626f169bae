"""The data gate: the only way market data reaches the view.

It drops duplicates and late bars (journaled, never silently), marks a gap as
*no data* (the bar after a gap carries ``gap_ms``; nothing is interpolated),
updates indicators, and at each decision marks every symbol whose newest data
is older than ``max_age_ms`` as stale, which the risk gate reads as "no new
exposure here".

Live, a bar may be amended after it was taken (a late trade inside the bar
builder's reorder window). With ``keep_prior`` the gate keeps each symbol's
indicators as they were before its newest bar, so ``amend`` can re-apply that
bar corrected: the next decision sees the indicators the corrected history
gives, exactly. Only the newest bar can be amended this way; an older one is
history the indicators have moved past (the correction is journaled anyway).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bastion.model import Bar
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
        keep_prior: bool = False,
    ) -> None:
        self.max_age_ms = max_age_ms
        self.keep_prior = keep_prior
        self._prior: dict[str, Any] = {}  # symbol -> its indicators before the newest bar
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
        if self.keep_prior:
            self._prior[symbol] = _copy_indicators(sv._indicators)
        for update in sv._updates:
            update(o, h, low, c, v)
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

    def amend(self, bar: Bar) -> bool:
        """Replace the newest bar of ``bar.symbol`` by ``bar`` (same open time).

        Returns False, changing nothing, when ``bar`` is not the newest bar or
        the prior indicators were not kept."""
        sv = self.view._symbols.get(bar.symbol)
        prior = self._prior.get(bar.symbol)
        if sv is None or prior is None or sv.bars == 0 or bar.ts != sv.ts:
            return False
        sv._bind(_copy_indicators(prior))
        sv.open, sv.high, sv.low, sv.close, sv.volume = (
            bar.open,
            bar.high,
            bar.low,
            bar.close,
            bar.volume,
        )
        for ind in sv._indicators.values():
            ind.update(bar.open, bar.high, bar.low, bar.close, bar.volume)
        return True

    def view_at(self, now: int) -> MarketView:
        """The view as of decision time ``now``, with staleness marked."""
        view = self.view
        view.now = now
        limit = self.max_age_ms
        for sv in view._symbols.values():
            sv.stale = sv.bars == 0 or now - sv.data_ts > limit
        return view


def _copy_indicators(inds: dict[Any, Any]) -> dict[Any, Any]:
    """The indicators' state, copied; the spec keys stay the strategies' own objects."""
    return {spec: copy.deepcopy(ind) for spec, ind in inds.items()}

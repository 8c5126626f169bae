"""The risk gate's memory of the market, kept from the view it is shown.

``RiskGate.watch`` runs every cycle and hands the view to ``observe``, which
costs a comparison per symbol unless a new bar arrived: then the bar's volume
enters a rolling window (for the volume rule) and a Wilder ATR is advanced
(for the price band). Every ``interval_ms`` the current prices of all symbols
are sampled into a ring buffer, from which correlation clusters are computed
on a cadence (every ``recompute_every`` samples), never per order.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from bastion.model.indicators import SMA, Indicator
from bastion.model.view import MarketView, SymbolView
from bastion.risk.correlation import clusters_from_prices

ATR_PERIOD = 14


class _Track:
    """Bar history of one symbol: a rolling volume window and, when asked, an ATR.
    When the view already keeps ``SMA(window, "volume")`` that is read instead."""

    __slots__ = (
        "atr",
        "mean",
        "mean_n",
        "n",
        "prev_close",
        "sv",
        "ts",
        "view_volume",
        "vols",
        "with_atr",
    )

    def __init__(self, sv: SymbolView, window: int, with_atr: bool) -> None:
        self.sv = sv
        try:
            self.view_volume: Indicator | None = sv.indicator(SMA(window, "volume"))
        except KeyError:
            self.view_volume = None
        self.ts = -1
        self.vols: deque[float] = deque(maxlen=window)
        self.with_atr = with_atr
        self.atr: float | None = None
        self.prev_close: float | None = None
        self.n = 0
        self.mean = 0.0  # the window's mean volume as of bar ``mean_n``
        self.mean_n = -1

    def take_range(self, sv: SymbolView) -> None:
        """The new bar's true range into the ATR (bar ``n``, already counted)."""
        pc = self.prev_close
        h, low = sv.high, sv.low
        tr = h - low if pc is None else max(h - low, abs(h - pc), abs(low - pc))
        self.prev_close = sv.close
        # The running mean of the first ATR_PERIOD true ranges, then Wilder's smoothing.
        atr = self.atr
        self.atr = tr if atr is None else atr + (tr - atr) / min(self.n, ATR_PERIOD)


class MarketTape:
    def __init__(
        self,
        *,
        volume_window: int = 30,
        sample_interval_ms: int = 60_000,
        sample_window: int = 240,
        with_atr: bool = False,
        with_samples: bool = True,
    ) -> None:
        self.volume_window = volume_window
        self.with_atr = with_atr
        self.with_samples = with_samples
        self.sample_interval_ms = sample_interval_ms
        self.sample_window = sample_window
        self._view: MarketView | None = None
        self._tracks: list[_Track] = []
        self._by_symbol: dict[str, _Track] = {}
        self._symbols: tuple[str, ...] = ()
        self._next_sample = 0
        self._prices: npt.NDArray[np.float64] = np.empty((0, 0))
        self.samples = 0  # prices sampled so far (the ring holds the latest ones)
        self._clusters: Mapping[str, frozenset[str]] = {}
        self._clustered_at = -1
        self._sampling = False
        self.warming_up = True  # correlations not yet known: all symbols assumed one cluster

    def _bind(self, view: MarketView) -> None:
        self._view = view
        self._symbols = tuple(view)
        self._tracks = [_Track(view[s], self.volume_window, self.with_atr) for s in self._symbols]
        # Prices are sampled for correlations only when there is something to correlate.
        self._sampling = self.with_samples and len(self._symbols) > 1
        self._by_symbol = dict(zip(self._symbols, self._tracks, strict=True))
        self._prices = np.full((self.sample_window + 1, len(self._symbols)), np.nan)
        self.samples = 0
        self._clustered_at = -1

    def observe(self, view: MarketView, now: int) -> None:
        """Take whatever is new in ``view`` (cheap when nothing is)."""
        if view is not self._view:
            self._bind(view)
        for t in self._tracks:
            sv = t.sv
            if sv.ts != t.ts and sv.bars:
                t.ts = sv.ts
                t.n += 1
                if t.view_volume is None:
                    # Only remembered here (a bounded deque); summed when an order
                    # is reviewed, which is rare next to bars arriving.
                    t.vols.append(sv.volume)
                if t.with_atr:
                    t.take_range(sv)
        if self._sampling and now >= self._next_sample:
            self._sample(now)

    def _sample(self, now: int) -> None:
        iv = self.sample_interval_ms
        self._next_sample = (now // iv + 1) * iv
        row = self._prices[self.samples % len(self._prices)]
        for k, t in enumerate(self._tracks):
            price = t.sv.price if t.sv.bars or t.sv.last is not None else 0.0
            row[k] = price if price > 0 else np.nan
        self.samples += 1

    # ---------------------------------------------------------------- readers
    def mean_volume(self, symbol: str) -> float | None:
        """Mean bar volume over the window (fewer bars early on), or None before any bar."""
        t = self._by_symbol.get(symbol)
        if t is None:
            return None
        if t.view_volume is not None and t.view_volume.value is not None:
            return t.view_volume.value
        if not t.vols:
            return None
        if t.mean_n != t.n:  # the window only changes with a bar: once per bar at most
            t.mean, t.mean_n = math.fsum(t.vols) / len(t.vols), t.n
        return t.mean

    def atr(self, symbol: str) -> float | None:
        """Wilder ATR once ATR_PERIOD bars were seen, else None."""
        t = self._by_symbol.get(symbol)
        if t is None or t.n < ATR_PERIOD or not t.with_atr:
            return None
        return t.atr

    def clusters(
        self, *, threshold: float, min_samples: int, recompute_every: int
    ) -> Mapping[str, frozenset[str]]:
        """Symbol → the cluster of co-moving symbols it belongs to (only clusters of
        two or more). Recomputed when ``recompute_every`` new samples arrived.

        Until ``min_samples`` returns are known (the first hour with the defaults,
        and again after a restart) the correlations are unknown and every symbol
        is assumed to move with every other: one cluster (``warming_up``)."""
        if self._clustered_at >= 0 and self.samples - self._clustered_at < recompute_every:
            return self._clusters
        self._clustered_at = self.samples
        n = min(self.samples, len(self._prices))
        if len(self._symbols) < 2:
            self._clusters = {}
            return self._clusters
        self.warming_up = n - 1 < min_samples
        if self.warming_up:
            everything = frozenset(self._symbols)
            self._clusters = dict.fromkeys(self._symbols, everything)
            return self._clusters
        start = self.samples % len(self._prices) if self.samples > len(self._prices) else 0
        ordered = np.roll(self._prices, -start, axis=0)[:n]
        self._clusters = clusters_from_prices(
            ordered, self._symbols, threshold=threshold, min_samples=min_samples
        )
        return self._clusters

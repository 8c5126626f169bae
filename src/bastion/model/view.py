"""The market as the strategy and the risk gate see it at one instant.

The data gate owns and advances the view; strategies and risk rules only read
it. A ``SymbolView`` holds the latest bar (or quote/trade) of one symbol, its
indicators and whether the data is usable: ``stale`` when the newest data is
older than the configured limit, ``gap_ms`` when the latest bar followed a gap
(missing bars are *no data*; nothing is filled in).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from bastion.model.indicators import Indicator, IndicatorSpec
from bastion.model.market import BookTop
from bastion.model.money import to_decimal


class PastBar(NamedTuple):
    """One bar of ``view.history``: open time (ms UTC) and OHLCV."""

    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class History(IndicatorSpec):
    """Ask the view to keep the last ``bars`` bars of a symbol for
    ``view.history(symbol, n)``. Declared like an indicator so that the window
    is bounded and only symbols whose strategies want one pay for it."""

    bars: int

    def __post_init__(self) -> None:
        if self.bars < 1:
            raise ValueError(f"History needs at least 1 bar, got {self.bars}")

    def build(self) -> Indicator:
        raise TypeError("History is kept by the view, not computed as an indicator")


class SymbolView:
    """Latest market state of one symbol. Read-only for strategies."""

    __slots__ = (
        "_asked",
        "_by_id",
        "_history",
        "_indicators",
        "_specs",
        "_updates",
        "ask",
        "bars",
        "bid",
        "book",
        "close",
        "data_ts",
        "gap_ms",
        "gaps",
        "high",
        "interval_ms",
        "last",
        "low",
        "open",
        "stale",
        "symbol",
        "ts",
        "volume",
    )

    def __init__(self, symbol: str, interval_ms: int, specs: Iterable[IndicatorSpec] = ()) -> None:
        self.symbol = symbol
        self.interval_ms = interval_ms
        self.ts = 0  # open time of the latest bar (ms UTC)
        self.data_ts = 0  # when the latest data became complete (bar close, trade time)
        self.open = self.high = self.low = self.close = self.volume = 0.0
        self.bid: float | None = None
        self.ask: float | None = None
        self.last: float | None = None
        self.book: BookTop | None = None  # the L2 book's top, when a book feed runs
        self.bars = 0
        self.gaps = 0
        self.gap_ms = 0
        self.stale = True
        self._specs: tuple[IndicatorSpec, ...] = ()
        self._indicators: dict[IndicatorSpec, Indicator] = {}
        # Each indicator's bound ``update``, which the data gate calls every bar:
        # kept with ``_indicators`` (``_bind``) so a bar does not look them up.
        self._updates: tuple[Callable[[float, float, float, float, float], None], ...] = ()
        # Strategies ask for the same spec object every bar; looking it up by
        # identity skips re-hashing a dataclass on the hot path. ``_asked`` keeps
        # each spec looked up alive, so no other object can take its id while
        # its entry stands.
        self._by_id: dict[int, Indicator] = {}
        self._asked: list[IndicatorSpec] = []
        self._history: deque[PastBar] | None = None  # appended to by the data gate
        self.add_indicators(specs)

    def add_indicators(self, specs: Iterable[IndicatorSpec]) -> None:
        for spec in specs:
            if isinstance(spec, History):
                have = 0 if self._history is None else (self._history.maxlen or 0)
                if spec.bars > have:
                    self._history = deque(self._history or (), maxlen=spec.bars)
                continue
            if spec not in self._indicators:
                self._indicators[spec] = spec.build()
        self._bind(self._indicators)

    def _bind(self, indicators: dict[IndicatorSpec, Indicator]) -> None:
        """Make ``indicators`` this view's (the data gate's ``amend`` swaps them)."""
        self._indicators = indicators
        self._specs = tuple(indicators)
        self._updates = tuple(ind.update for ind in indicators.values())
        self._by_id.clear()
        self._asked.clear()

    def value(self, spec: IndicatorSpec) -> float | None:
        """Current value of ``spec`` (None until its window is full)."""
        ind = self._by_id.get(id(spec))
        if ind is not None:
            return ind.value
        return self.indicator(spec).value

    def indicator(self, spec: IndicatorSpec) -> Indicator:
        """The indicator itself, for ``value`` and ``prev``."""
        ind = self._indicators.get(spec)
        if ind is None:
            raise KeyError(f"{self.symbol}: indicator {spec} was not requested by any strategy")
        if id(spec) not in self._by_id:
            self._asked.append(spec)
            self._by_id[id(spec)] = ind
        return ind

    def history(self, n: int) -> tuple[PastBar, ...]:
        """The last ``n`` bars, oldest first (fewer early in the run): a copy, so
        reading it cannot change the view. ``n`` is bounded by the largest
        ``History(bars)`` a strategy declared in ``indicators``."""
        kept = self._history
        if kept is None or n > (kept.maxlen or 0):
            have = 0 if kept is None else kept.maxlen
            raise KeyError(
                f"{self.symbol}: history of {n} bars was not requested "
                f"(kept: {have}); declare History({n}) in the strategy's indicators()"
            )
        if n <= 0:
            return ()
        if n >= len(kept):
            return tuple(kept)
        return tuple(kept)[-n:]

    @property
    def price(self) -> float:
        """Best estimate of the current price: mid when quoted, else last trade, else close."""
        if self.bid is not None and self.ask is not None:
            return (self.bid + self.ask) / 2.0
        if self.last is not None:
            return self.last
        return self.close

    @property
    def mark(self) -> Decimal:
        return to_decimal(self.price)

    @property
    def tradable(self) -> bool:
        return self.bars > 0 and not self.stale


class MarketView(Mapping[str, SymbolView]):
    """All symbols' views plus the decision time ``now`` (ms UTC)."""

    __slots__ = ("_symbols", "now")

    def __init__(self, symbols: Mapping[str, SymbolView]) -> None:
        self._symbols = dict(symbols)
        self.now = 0

    def __getitem__(self, symbol: str) -> SymbolView:
        return self._symbols[symbol]

    def __iter__(self) -> Iterator[str]:
        return iter(self._symbols)

    def __len__(self) -> int:
        return len(self._symbols)

    def get(self, symbol: str, default: SymbolView | None = None) -> SymbolView | None:  # type: ignore[override]
        """``Mapping.get`` in one dict lookup (the risk rules call it per order)."""
        return self._symbols.get(symbol, default)

    def history(self, symbol: str, n: int) -> tuple[PastBar, ...]:
        """The last ``n`` bars of ``symbol``, oldest first (see ``SymbolView.history``)."""
        return self._symbols[symbol].history(n)

    def marks(self) -> dict[str, Decimal]:
        """Current mark price of every symbol with data, as Decimal."""
        return {s: v.mark for s, v in self._symbols.items() if v.bars > 0 or v.last is not None}

    def fingerprint(self) -> tuple[object, ...]:
        """A cheap summary of everything a strategy can read; the purity guard
        compares it before and after ``decide`` to catch mutation."""
        parts: list[object] = [self.now]
        for sym in sorted(self._symbols):
            v = self._symbols[sym]
            parts.append(
                (
                    sym,
                    v.ts,
                    v.data_ts,
                    v.open,
                    v.high,
                    v.low,
                    v.close,
                    v.volume,
                    v.bid,
                    v.ask,
                    v.last,
                    v.bars,
                    v.gaps,
                    v.gap_ms,
                    v.stale,
                    v.book,
                    tuple((spec, ind.value, ind.prev) for spec, ind in v._indicators.items()),
                    v._history[-1] if v._history else None,
                )
            )
        return tuple(parts)

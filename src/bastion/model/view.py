"""The market as the strategy and the risk gate see it at one instant.

The data gate owns and advances the view; strategies and risk rules only read
it. A ``SymbolView`` holds the latest bar (or quote/trade) of one symbol, its
indicators and whether the data is usable: ``stale`` when the newest data is
older than the configured limit, ``gap_ms`` when the latest bar followed a gap
(missing bars are *no data*; nothing is filled in).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal

from bastion.model.indicators import Indicator, IndicatorSpec
from bastion.model.market import BookTop
from bastion.model.money import to_decimal


class SymbolView:
    """Latest market state of one symbol. Read-only for strategies."""

    __slots__ = (
        "_by_id",
        "_indicators",
        "_specs",
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
        # Strategies ask for the same spec object every bar; looking it up by
        # identity skips re-hashing a dataclass on the hot path.
        self._by_id: dict[int, tuple[IndicatorSpec, Indicator]] = {}
        self.add_indicators(specs)

    def add_indicators(self, specs: Iterable[IndicatorSpec]) -> None:
        for spec in specs:
            if spec not in self._indicators:
                self._indicators[spec] = spec.build()
        self._specs = tuple(self._indicators)

    def value(self, spec: IndicatorSpec) -> float | None:
        """Current value of ``spec`` (None until its window is full)."""
        entry = self._by_id.get(id(spec))
        if entry is not None and entry[0] is spec:
            return entry[1].value
        return self.indicator(spec).value

    def indicator(self, spec: IndicatorSpec) -> Indicator:
        """The indicator itself, for ``value`` and ``prev``."""
        ind = self._indicators.get(spec)
        if ind is None:
            raise KeyError(f"{self.symbol}: indicator {spec} was not requested by any strategy")
        self._by_id[id(spec)] = (spec, ind)
        return ind

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
                )
            )
        return tuple(parts)

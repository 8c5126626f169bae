"""An L2 order book from a REST snapshot plus diffs, sequenced by update id.

Binance's rules for ``<symbol>@depth@100ms`` and ``GET /api/v3/depth``: a
diff carries the range ``[U, u]`` of update ids it folds in; a snapshot says
``lastUpdateId``. Diffs with ``u <= lastUpdateId`` are already in the snapshot
(dropped as stale); the first diff applied must straddle ``lastUpdateId + 1``
(``U <= lastUpdateId + 1 <= u``); after that every diff must start at the
previous ``u + 1``. Anything else is a gap: the book is wrong from there on,
so it stops answering and asks for a fresh snapshot (``needs_snapshot``).
Diffs that arrive before the snapshot (or while a resync waits for one) are
buffered and replayed against it, so subscribing first and fetching second
loses nothing.

Sans-I/O and fast (the feed applies every diff, about ten a second per
symbol, a replay hundreds of thousands): the sequencing is here, each side of
the book is a ``Side`` that takes a diff's levels as the JSON parser hands
them (``[["price", "qty"], ...]`` texts; mappings of floats work too) in one
call. The C ``Side`` (``_book_side.pyx``, built at install) keeps the levels
in a hash table of doubles and the best 64 prices sorted as diffs go in; the
pure Python one (``book_side.py``) is the fallback when the extension was not
built, with the same answers (``SIDES`` holds what this install has;
``OrderBook(side=...)`` picks one). Prices are compared by value, so any
spelling of a price or of a zero quantity means the same level.

A recording without a snapshot (``start_from_stream``) seeds the book from
the first diff it sees: sequencing and gap detection still hold, but levels
that never changed since the recording began are missing (``complete`` is
False), so such a book is for tests and replays, never for sizing orders.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from bastion.data.book_side import LevelParser, Levels, RawLevels, parse_levels
from bastion.data.book_side import Side as PySide
from bastion.model.market import BookTop

Diff = Levels | RawLevels  # one side of a diff, as the feed or a test hands it

__all__ = ["SIDES", "BookState", "DiffOutcome", "Gap", "LevelParser", "OrderBook", "parse_levels"]


class BookState(StrEnum):
    WAITING = "waiting"  # no snapshot yet (or a resync asked for one): diffs are buffered
    SYNCING = "syncing"  # a snapshot is in, the straddling diff is not
    LIVE = "live"  # in sequence: the book answers


class DiffOutcome(StrEnum):
    APPLIED = "applied"
    STALE = "stale"  # u <= the book's last update id: already in it
    BUFFERED = "buffered"  # waiting for a snapshot
    GAP = "gap"  # out of sequence: the book resyncs


_LIVE, _APPLIED = BookState.LIVE, DiffOutcome.APPLIED


@dataclass(frozen=True, slots=True)
class Gap:
    """Why the book lost sync: the id it expected and the diff that came instead."""

    expected: int
    first_id: int
    last_id: int


_MAX_BUFFER = 2_000  # ~3 minutes of 100 ms diffs: a snapshot that takes longer is refetched


class SideLike(Protocol):
    """What the book asks of one side; ``book_side.Side`` and the C ``Side``."""

    best_first: bool

    def update(self, levels: Levels | RawLevels) -> None: ...
    def reset(self, levels: Levels | RawLevels) -> None: ...
    def best(self) -> float | None: ...
    def meets(self, other: Any) -> bool: ...
    def qty(self, price: float) -> float: ...
    def within(self, limit: float) -> float: ...
    def levels(self, n: int) -> list[tuple[float, float]]: ...
    def as_dict(self) -> dict[float, float]: ...


SIDES: dict[str, Callable[[bool], SideLike]] = {"python": PySide}
try:  # built by setup.py at install; without a compiler the pure Python side serves
    from bastion.data._book_side import Side as _CSide

    SIDES["c"] = _CSide
except ImportError:  # pragma: no cover - depends on the install
    pass
# BASTION_BOOK_SIDE=python runs the fallback where the C side is built (CI runs both).
DEFAULT_SIDE = os.environ.get("BASTION_BOOK_SIDE") or ("c" if "c" in SIDES else "python")


class LevelsView(dict[float, float]):
    """A side's live levels, price -> quantity; a price with no level reads 0."""

    __slots__ = ()

    def __missing__(self, price: float) -> float:
        return 0.0


class OrderBook:
    # Slots: ``apply`` reads and writes a handful of these for every diff.
    __slots__ = (
        "_asks",
        "_bids",
        "_buffer",
        "_from_stream",
        "applied",
        "complete",
        "dropped",
        "gaps",
        "last_id",
        "resyncs",
        "stale_ms",
        "state",
        "symbol",
        "updated_ms",
    )

    def __init__(self, symbol: str, *, stale_ms: int = 5_000, side: str | None = None) -> None:
        self.symbol = symbol
        self.stale_ms = stale_ms
        make = SIDES[side or DEFAULT_SIDE]
        self._bids = make(True)
        self._asks = make(False)
        self.state = BookState.WAITING
        self.last_id = 0
        self.complete = True
        self.updated_ms = 0  # exchange time of the newest diff or snapshot applied
        self.applied = 0
        self.dropped = 0
        self.gaps: list[Gap] = []
        self.resyncs = 0
        self._buffer: list[tuple[int, int, Diff, Diff, int]] = []
        self._from_stream = False

    @property
    def bids(self) -> LevelsView:
        """Every live bid level, price -> quantity (a copy: O(levels), for tests
        and inspection; the hot readers are ``best_bid``, ``depth_within``, ``levels``)."""
        return LevelsView(self._bids.as_dict())

    @property
    def asks(self) -> LevelsView:
        return LevelsView(self._asks.as_dict())

    # ----------------------------------------------------------------- input
    def start_from_stream(self) -> None:
        """No snapshot will come (a recording): the first diff seeds an empty book."""
        self._from_stream = True
        self.complete = False

    def load_snapshot(self, last_update_id: int, bids: Diff, asks: Diff, ts: int) -> int:
        """Replace the book by a snapshot, then replay buffered diffs; returns how
        many of them applied. A snapshot older than every buffered diff leaves a
        gap and the book waits for another (``needs_snapshot``)."""
        self._bids.reset(bids)
        self._asks.reset(asks)
        self.last_id = last_update_id
        self.updated_ms = ts
        self.complete = True
        self._from_stream = False
        self.state = BookState.SYNCING
        buffered, self._buffer = self._buffer, []
        n = 0
        for i, (first, last, b, a, t) in enumerate(buffered):
            if self.apply(first, last, b, a, t) is DiffOutcome.APPLIED:
                n += 1
            if self.state is BookState.WAITING:  # the snapshot is older than the diffs
                self._buffer.extend(buffered[i + 1 :])  # kept for the next snapshot
                break
        return n

    def apply(self, first_id: int, last_id: int, bids: Diff, asks: Diff, ts: int) -> DiffOutcome:
        """Fold one diff ``[first_id, last_id]`` in under Binance's sequencing rules.
        ``bids``/``asks``: the stream's ``[["price", "qty"], ...]`` as parsed, or a
        mapping of price -> quantity; a zero quantity removes the level."""
        state = self.state
        if state is _LIVE:  # the hot path: module constants, no attribute lookups
            if first_id != self.last_id + 1:
                if last_id <= self.last_id:
                    self.dropped += 1
                    return DiffOutcome.STALE
                return self._gap(first_id, last_id, bids, asks, ts)
        elif state is BookState.SYNCING:
            if last_id <= self.last_id:
                self.dropped += 1
                return DiffOutcome.STALE
            if first_id > self.last_id + 1:
                return self._gap(first_id, last_id, bids, asks, ts)
            self.state = BookState.LIVE
        elif self._from_stream:
            self.state = BookState.LIVE
        else:
            self._hold(first_id, last_id, bids, asks, ts)
            return DiffOutcome.BUFFERED
        self.last_id = last_id
        self.updated_ms = ts
        self.applied += 1
        if bids:
            self._bids.update(bids)
        if asks:
            self._asks.update(asks)
        return _APPLIED

    def invalidate(self) -> None:
        """Throw the book away and wait for a snapshot (crossed book, a reconnect)."""
        self.state = BookState.WAITING
        self._buffer = []
        self.resyncs += 1

    def _gap(self, first_id: int, last_id: int, bids: Diff, asks: Diff, ts: int) -> DiffOutcome:
        self.gaps.append(Gap(self.last_id + 1, first_id, last_id))
        if self._from_stream:
            # No snapshot can come: restart from this diff, and say the book is partial.
            self.resyncs += 1
            self._bids.reset({})
            self._asks.reset({})
            self.state = BookState.WAITING
            self.apply(first_id, last_id, bids, asks, ts)
            return DiffOutcome.GAP
        self.invalidate()
        self._hold(first_id, last_id, bids, asks, ts)
        return DiffOutcome.GAP

    def _hold(self, first_id: int, last_id: int, bids: Diff, asks: Diff, ts: int) -> None:
        self._buffer.append((first_id, last_id, bids, asks, ts))
        if len(self._buffer) > _MAX_BUFFER:
            del self._buffer[: len(self._buffer) - _MAX_BUFFER]

    @property
    def needs_snapshot(self) -> bool:
        return self.state is BookState.WAITING and not self._from_stream

    @property
    def buffered_from(self) -> int | None:
        """The first update id held for the next snapshot (it must reach this far)."""
        return self._buffer[0][0] if self._buffer else None

    # ---------------------------------------------------------------- output
    @property
    def best_bid(self) -> float | None:
        return self._bids.best()

    @property
    def best_ask(self) -> float | None:
        return self._asks.best()

    def crossed(self) -> bool:
        """Best bid at or above best ask (crossed, or locked when equal): no real
        book looks like this for long, so ours is wrong."""
        return self._bids.meets(self._asks)  # after every diff: one call

    def depth_within(self, bps: float) -> tuple[float, float]:
        """Quantity resting within ``bps`` of the mid on each side: (bids, asks)."""
        bid, ask = self.best_bid, self.best_ask
        if bid is None or ask is None:
            return 0.0, 0.0
        mid = (bid + ask) / 2.0
        return self._bids.within(mid * (1 - bps / 1e4)), self._asks.within(mid * (1 + bps / 1e4))

    def levels(self, side: str, n: int) -> list[tuple[float, float]]:
        """The best ``n`` levels of ``side`` ("bids" or "asks"), best first."""
        return (self._bids if side == "bids" else self._asks).levels(n)

    def top(self, now: int, depth_bps: float = 10.0) -> BookTop:
        """What the view shows: best prices, depth near the mid, and whether to trust it."""
        bid, ask = self.best_bid, self.best_ask
        bid_depth, ask_depth = self.depth_within(depth_bps)
        return BookTop(
            bid=bid,
            bid_qty=self._bids.qty(bid) if bid is not None else 0.0,
            ask=ask,
            ask_qty=self._asks.qty(ask) if ask is not None else 0.0,
            depth_bps=depth_bps,
            bid_depth=bid_depth,
            ask_depth=ask_depth,
            ts=self.updated_ms,
            synced=self.state is BookState.LIVE and self.complete,
            crossed=self.crossed(),
            stale=now - self.updated_ms > self.stale_ms,
        )

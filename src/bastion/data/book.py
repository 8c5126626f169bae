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
symbol, a replay hundreds of thousands): a side is a plain ``dict`` of
price -> quantity updated in one ``dict.update`` call per diff. A quantity of
zero stays in the dict as a tombstone (that is what lets the update stay in
C), and readers skip it; tombstones are swept once they outnumber the levels.
The best levels of each side are kept sorted and refreshed only when read,
from the prices touched since (see ``_Side``); the best price alone is kept
cheaper still (``_Side.best``), since the crossed check reads it after every
diff. Diffs parsed by one ``LevelParser`` share their price floats, which is
what keeps ``dict.update`` fast on a book of thousands of levels.

A recording without a snapshot (``start_from_stream``) seeds the book from
the first diff it sees: sequencing and gap detection still hold, but levels
that never changed since the recording began are missing (``complete`` is
False), so such a book is for tests and replays, never for sizing orders.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bastion.model.market import BookTop

Levels = Mapping[float, float]  # price -> quantity; 0 removes the level


class BookState(StrEnum):
    WAITING = "waiting"  # no snapshot yet (or a resync asked for one): diffs are buffered
    SYNCING = "syncing"  # a snapshot is in, the straddling diff is not
    LIVE = "live"  # in sequence: the book answers


class DiffOutcome(StrEnum):
    APPLIED = "applied"
    STALE = "stale"  # u <= the book's last update id: already in it
    BUFFERED = "buffered"  # waiting for a snapshot
    GAP = "gap"  # out of sequence: the book resyncs


@dataclass(frozen=True, slots=True)
class Gap:
    """Why the book lost sync: the id it expected and the diff that came instead."""

    expected: int
    first_id: int
    last_id: int


_MAX_BUFFER = 2_000  # ~3 minutes of 100 ms diffs: a snapshot that takes longer is refetched


class _Side:
    """One side of the book: every level in a dict, the best few kept sorted.

    A diff is one ``dict.update`` plus one ``list.append`` per side (both in C);
    zero quantities stay as tombstones. ``top`` (best first) is refreshed
    only when read: every live price at or better than ``floor`` is either in
    the previous top or among the prices touched since (``pending``), so the
    refresh looks at those alone; only when removals have eaten the whole
    top does it rescan the side.
    """

    __slots__ = ("_best", "_best_at", "best_first", "floor", "levels", "pending", "sweep_at", "top")

    def __init__(self, best_first_high: bool) -> None:
        self.best_first = best_first_high  # bids: True (highest first); asks: False
        self.levels: dict[float, float] = {}
        self.pending: list[Levels] = []
        self.top: list[float] = []
        self.floor: float | None = None  # everything live beyond this is in ``top``
        self.sweep_at = 1_000
        self._best: float | None = None  # exact as of ``pending[:_best_at]``
        self._best_at = 0

    def reset(self, levels: Levels) -> None:
        self.levels = {p: q for p, q in levels.items() if q > 0}
        self.pending = []
        self._rescan()

    def refresh(self) -> list[float]:
        if not self.pending:
            return self.top
        lv = self.levels
        floor = self.floor
        touched: set[float] = set()
        for levels in self.pending:
            touched.update(levels)
        self.pending = []
        if floor is None:
            return self._rescan()
        # Everything here stays in C: set algebra, and filter() with the float's own
        # comparison and the dict's own lookup (a tombstone's 0.0 is false).
        near = filter(floor.__le__ if self.best_first else floor.__ge__, touched)
        live = set(self.top)
        live -= touched
        live.update(filter(lv.__getitem__, near))
        if not live:
            return self._rescan()
        top = sorted(live, reverse=self.best_first)
        if len(top) > _TOP:
            del top[_TOP:]
            self.floor = top[-1]
        self.top = top
        self._best, self._best_at = top[0], 0
        if len(lv) > self.sweep_at:  # tombstones pile up: sweep them (amortised O(1))
            self._sweep(list(filter(lv.__getitem__, lv)))
        return top

    def _sweep(self, live: list[float]) -> None:
        lv = self.levels
        self.levels = dict(zip(live, map(lv.__getitem__, live), strict=True))
        self.sweep_at = 2 * len(live) + 1_000

    def _rescan(self) -> list[float]:
        lv = self.levels
        live = list(filter(lv.__getitem__, lv))  # the live prices, in C
        if len(lv) > 2 * len(live) + 64:  # the scan is paid already: drop tombstones too
            self._sweep(live)
        live.sort(reverse=self.best_first)
        top = live[:_TOP]
        if len(top) == _TOP:
            self.floor = top[-1]
        else:  # the whole side is in view: any live price beyond the worst one is new
            self.floor = (-math.inf if self.best_first else math.inf) if top else None
        self.top = top
        self._best, self._best_at = (top[0] if top else None), 0
        return top

    def best(self) -> float | None:
        """The best live price, without refreshing the top when it can be helped.

        If the best price of the last look is still live, nothing untouched since
        can beat it, so the answer is it or the best live price among the touched
        ones: one C-level ``max``/``min`` over each diff since. Only when the best
        level itself was removed (about one diff in nine on BTCUSDT) does the
        top get refreshed.
        """
        pending = self.pending
        at = self._best_at
        if at == len(pending):
            return self._best
        best = self._best
        lv = self.levels
        if best is not None and not lv[best]:
            top = self.refresh()
            return top[0] if top else None
        # Per diff: its best price (C) decides; only when that beats ``best`` and
        # was itself a removal are the diff's live prices looked at (C as well).
        if self.best_first:
            for levels in pending[at:] if at else pending:
                p = max(levels)
                if best is None or p > best:
                    if not lv[p]:
                        live = max(filter(lv.__getitem__, levels), default=None)
                        if live is None or (best is not None and live <= best):
                            continue
                        p = live
                    best = p
        else:
            for levels in pending[at:] if at else pending:
                p = min(levels)
                if best is None or p < best:
                    if not lv[p]:
                        live = min(filter(lv.__getitem__, levels), default=None)
                        if live is None or (best is not None and live >= best):
                            continue
                        p = live
                    best = p
        self._best, self._best_at = best, len(pending)
        return best

    @property
    def complete(self) -> bool:
        """Whether ``top`` holds every live level of the side. Not the same as
        "fewer than ``_TOP`` levels": removals shrink a top whose floor is still
        finite, and the levels beyond that floor are then live but not in it
        (found by the property test: the worst ask missing from a wide read)."""
        return self.floor is None or math.isinf(self.floor)

    def within(self, limit: float) -> float:
        """Quantity at prices no worse than ``limit`` (tombstones add 0)."""
        top = self.refresh()
        lv = self.levels
        floor = self.floor
        if self.best_first:  # "no worse": p >= limit on bids, p <= limit on asks
            if self.complete or (floor is not None and floor < limit):
                return sum(map(lv.__getitem__, filter(limit.__le__, top)))  # all in the top
            return sum(map(lv.__getitem__, filter(limit.__le__, lv)))
        if self.complete or (floor is not None and floor > limit):
            return sum(map(lv.__getitem__, filter(limit.__ge__, top)))
        return sum(map(lv.__getitem__, filter(limit.__ge__, lv)))


_TOP = 64


class OrderBook:
    def __init__(self, symbol: str, *, stale_ms: int = 5_000) -> None:
        self.symbol = symbol
        self.stale_ms = stale_ms
        self._bids = _Side(True)
        self._asks = _Side(False)
        self.state = BookState.WAITING
        self.last_id = 0
        self.complete = True
        self.updated_ms = 0  # exchange time of the newest diff or snapshot applied
        self.applied = 0
        self.dropped = 0
        self.gaps: list[Gap] = []
        self.resyncs = 0
        self._buffer: list[tuple[int, int, Levels, Levels, int]] = []
        self._from_stream = False

    @property
    def bids(self) -> dict[float, float]:
        """Every bid level (quantity 0: a removed level not swept yet)."""
        return self._bids.levels

    @property
    def asks(self) -> dict[float, float]:
        return self._asks.levels

    # ----------------------------------------------------------------- input
    def start_from_stream(self) -> None:
        """No snapshot will come (a recording): the first diff seeds an empty book."""
        self._from_stream = True
        self.complete = False

    def load_snapshot(self, last_update_id: int, bids: Levels, asks: Levels, ts: int) -> int:
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

    def apply(
        self, first_id: int, last_id: int, bids: Levels, asks: Levels, ts: int
    ) -> DiffOutcome:
        """Fold one diff ``[first_id, last_id]`` in under Binance's sequencing rules."""
        state = self.state
        if state is BookState.LIVE:
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
        side = self._bids
        if bids:  # _Side.apply, inlined: this runs for every diff
            side.levels.update(bids)
            side.pending.append(bids)
        if asks:
            side = self._asks
            side.levels.update(asks)
            side.pending.append(asks)
        if len(side.pending) > 5_000:  # nobody reads the book: bound the backlog
            self._bids.refresh()
            self._asks.refresh()
        return DiffOutcome.APPLIED

    def invalidate(self) -> None:
        """Throw the book away and wait for a snapshot (crossed book, a reconnect)."""
        self.state = BookState.WAITING
        self._buffer = []
        self.resyncs += 1

    def _gap(self, first_id: int, last_id: int, bids: Levels, asks: Levels, ts: int) -> DiffOutcome:
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

    def _hold(self, first_id: int, last_id: int, bids: Levels, asks: Levels, ts: int) -> None:
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
        bid, ask = self.best_bid, self.best_ask
        return bid is not None and ask is not None and bid >= ask

    def depth_within(self, bps: float) -> tuple[float, float]:
        """Quantity resting within ``bps`` of the mid on each side: (bids, asks)."""
        bid, ask = self.best_bid, self.best_ask
        if bid is None or ask is None:
            return 0.0, 0.0
        mid = (bid + ask) / 2.0
        return self._bids.within(mid * (1 - bps / 1e4)), self._asks.within(mid * (1 + bps / 1e4))

    def levels(self, side: str, n: int) -> list[tuple[float, float]]:
        """The best ``n`` levels of ``side`` ("bids" or "asks"), best first."""
        s = self._bids if side == "bids" else self._asks
        top = s.refresh()
        if n > len(top) and not s.complete:
            live = [p for p, q in s.levels.items() if q > 0]
            live.sort(reverse=s.best_first)
            top = live
        return [(p, s.levels[p]) for p in top[:n]]

    def top(self, now: int, depth_bps: float = 10.0) -> BookTop:
        """What the view shows: best prices, depth near the mid, and whether to trust it."""
        bid, ask = self.best_bid, self.best_ask
        bid_depth, ask_depth = self.depth_within(depth_bps)
        return BookTop(
            bid=bid,
            bid_qty=self.bids.get(bid, 0.0) if bid is not None else 0.0,
            ask=ask,
            ask_qty=self.asks.get(ask, 0.0) if ask is not None else 0.0,
            depth_bps=depth_bps,
            bid_depth=bid_depth,
            ask_depth=ask_depth,
            ts=self.updated_ms,
            synced=self.state is BookState.LIVE and self.complete,
            crossed=self.crossed(),
            stale=now - self.updated_ms > self.stale_ms,
        )


def parse_levels(raw: Iterable[Sequence[str]]) -> dict[float, float]:
    """Binance's ``[["price", "qty"], ...]`` as floats (the book is analytics, not
    money), in a dict because that is what ``dict.update`` takes fastest."""
    return {float(p): float(q) for p, q in raw}


class _Interned(dict[str, float]):
    """The float for each price or quantity text seen, made once."""

    __slots__ = ()

    def __missing__(self, text: str) -> float:
        value = self[text] = float(text)
        return value


_INTERN_MAX = 200_000  # ~20 MB at most; a busy symbol sees ~75k distinct texts a day


class LevelParser:
    """``parse_levels`` for one stream: equal texts give the very same float object.

    That is what makes a diff cheap to apply. ``dict.update`` from a dict reuses
    the stored hashes, and when the key in the book is the same object as the
    key in the diff the lookup ends on a pointer compare, never reading the
    float; a book's prices repeat all day (a day of BTCUSDT diffs: 300k level
    updates over 30k prices), so almost every lookup ends there. Parsing is
    faster too: a hit skips ``float()``. The table is dropped when it grows
    past ``_INTERN_MAX`` (correctness never depends on it).
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen = _Interned()

    def __call__(self, raw: Iterable[Sequence[str]]) -> dict[float, float]:
        seen = self._seen
        if len(seen) > _INTERN_MAX:
            seen.clear()
        return {seen[p]: seen[q] for p, q in raw}

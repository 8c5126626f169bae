"""One side of the L2 book in pure Python: the fallback when the C side
(``bastion.data._book_side``, built by ``setup.py`` at install) is absent.

Both sides answer the same questions with the same numbers (the property
test in ``tests/data/test_book_impls.py`` runs them against one reference);
this one is what runs where no compiler was available, at about a
twelfth of the speed on the feed's path (docs/benchmarks.md).

A side is a plain ``dict`` of price -> quantity updated in one ``dict.update``
call per diff. A quantity of zero stays in the dict as a tombstone (that is
what lets the update stay in C), and readers skip it; tombstones are swept
once they outnumber the levels. The best levels are kept sorted and
refreshed only when read, from the prices touched since; the best price
alone is kept cheaper still (``best``), since the crossed check reads it
after every diff. The exchange's ``[[price, qty], ...]`` texts are turned
into floats by a ``LevelParser``, whose shared floats keep ``dict.update``
fast on a side of thousands of levels.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Levels = Mapping[float, float]  # price -> quantity; 0 removes the level
RawLevels = Sequence[Sequence[str]]  # the exchange's [["price", "qty"], ...]

_TOP = 64


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

    def __call__(self, raw: Iterable[Sequence[Any]]) -> dict[float, float]:
        seen = self._seen  # numbers pass too: float(x) of a float is itself
        if len(seen) > _INTERN_MAX:
            seen.clear()
        return {seen[p]: seen[q] for p, q in raw}


class Side:
    """One side of the book: every level in a dict, the best few kept sorted.

    ``top`` (best first) is refreshed only when read: every live price at or
    better than ``floor`` is either in the previous top or among the prices
    touched since (``pending``), so the refresh looks at those alone; only
    when removals have eaten the whole top does it rescan the side.
    """

    __slots__ = (
        "_best",
        "_best_at",
        "_parse",
        "best_first",
        "floor",
        "lv",
        "pending",
        "sweep_at",
        "top",
    )

    def __init__(self, best_first_high: bool) -> None:
        self.best_first = best_first_high  # bids: True (highest first); asks: False
        self.lv: dict[float, float] = {}
        self.pending: list[Levels] = []
        self.top: list[float] = []
        self.floor: float | None = None  # everything live beyond this is in ``top``
        self.sweep_at = 1_000
        self._best: float | None = None  # exact as of ``pending[:_best_at]``
        self._best_at = 0
        self._parse = LevelParser()

    # ---------------------------------------------------------------- input
    def update(self, levels: Levels | RawLevels) -> None:
        """Fold a diff's levels in (0 removes): a mapping, or the exchange's texts."""
        if type(levels) is not dict:
            levels = dict(levels) if isinstance(levels, Mapping) else self._parse(levels)
        if not levels:
            return
        self.lv.update(levels)
        self.pending.append(levels)
        if len(self.pending) > 5_000:  # nobody reads the book: bound the backlog
            self.refresh()

    def reset(self, levels: Levels | RawLevels) -> None:
        """Replace the side by a snapshot's levels (only positive quantities)."""
        if not isinstance(levels, Mapping):
            levels = self._parse(levels)
        self.lv = {p: q for p, q in levels.items() if q > 0}
        self.pending = []
        self._rescan()

    # ------------------------------------------------------------- the top
    def refresh(self) -> list[float]:
        if not self.pending:
            return self.top
        lv = self.lv
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
        lv = self.lv
        self.lv = dict(zip(live, map(lv.__getitem__, live), strict=True))
        self.sweep_at = 2 * len(live) + 1_000

    def _rescan(self) -> list[float]:
        lv = self.lv
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

    # -------------------------------------------------------------- output
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
        lv = self.lv
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

    def meets(self, other: Side) -> bool:
        """Whether this side's best price reaches the other side's best (a bid
        at or above the best ask)."""
        mine, theirs = self.best(), other.best()
        if mine is None or theirs is None:
            return False
        return mine >= theirs if self.best_first else mine <= theirs

    @property
    def complete(self) -> bool:
        """Whether ``top`` holds every live level of the side. Not the same as
        "fewer than ``_TOP`` levels": removals shrink a top whose floor is still
        finite, and the levels beyond that floor are then live but not in it
        (found by the property test: the worst ask missing from a wide read)."""
        return self.floor is None or math.isinf(self.floor)

    def qty(self, price: float) -> float:
        """The quantity at ``price`` (0.0 when no level rests there)."""
        return self.lv.get(price, 0.0)

    def within(self, limit: float) -> float:
        """Quantity at prices no worse than ``limit`` (tombstones add 0)."""
        top = self.refresh()
        lv = self.lv
        floor = self.floor
        if self.best_first:  # "no worse": p >= limit on bids, p <= limit on asks
            if self.complete or (floor is not None and floor < limit):
                return sum(map(lv.__getitem__, filter(limit.__le__, top)))  # all in the top
            return sum(map(lv.__getitem__, filter(limit.__le__, lv)))
        if self.complete or (floor is not None and floor > limit):
            return sum(map(lv.__getitem__, filter(limit.__ge__, top)))
        return sum(map(lv.__getitem__, filter(limit.__ge__, lv)))

    def levels(self, n: int) -> list[tuple[float, float]]:
        """The best ``n`` levels, best first, as (price, qty)."""
        top = self.refresh()
        if n > len(top) and not self.complete:
            live = [p for p, q in self.lv.items() if q]
            live.sort(reverse=self.best_first)
            top = live
        lv = self.lv
        return [(p, lv[p]) for p in top[:n]]

    def as_dict(self) -> dict[float, float]:
        """Every live level, price -> quantity."""
        return {p: q for p, q in self.lv.items() if q}

    def __len__(self) -> int:
        return sum(1 for q in self.lv.values() if q)

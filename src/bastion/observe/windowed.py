"""Fees and realised PnL per strategy and symbol, summed by the quarter hour.

The dashboard shows "today" and "the last seven days" beside "all". Keeping
every fill and every closed trip of the last eight days to sum them again on
each page refresh costs memory in proportion to how busy the bot is: a market
maker filling once a second holds 700,000 fills. What the windows need is
much less: the fees and the realised PnL of each quarter hour. Every civil
time zone's midnight falls on a quarter hour, so "today" is exact; the
seven-day window starts at the quarter hour at or before ``now - 7 days``.
Memory is at most 768 buckets per strategy and symbol, whatever the rate.

Sans-I/O and clock-free: times are the journal's milliseconds.
"""

from __future__ import annotations

from decimal import Decimal

from bastion.model.money import ZERO

BUCKET_MS = 15 * 60_000

Key = tuple[str, str]  # (strategy id, symbol)


class Windowed:
    """Quarter-hour sums of fees and realised PnL, the last ``keep_ms`` of them."""

    __slots__ = ("_buckets", "_keep_ms", "_newest")

    def __init__(self, keep_ms: int) -> None:
        self._keep_ms = keep_ms
        # bucket start -> key -> [fees, realised]; a new bucket is the moment to forget
        self._buckets: dict[int, dict[Key, list[Decimal]]] = {}
        self._newest = 0

    def add(self, key: Key, ts: int, *, fees: Decimal = ZERO, realised: Decimal = ZERO) -> None:
        start = ts - ts % BUCKET_MS
        if start not in self._buckets:
            if start < self._newest - self._keep_ms:
                return  # older than anything a window can ask for
            self._buckets[start] = {}
            if start > self._newest:
                self._newest = start
                self._forget()
        sums = self._buckets[start].setdefault(key, [ZERO, ZERO])
        sums[0] += fees
        sums[1] += realised

    def since(self, key: Key, start_ms: int) -> tuple[Decimal, Decimal]:
        """(fees, realised) of ``key`` from the quarter hour holding ``start_ms`` on."""
        floor = start_ms - start_ms % BUCKET_MS
        fees = realised = ZERO
        for bucket, sums in self._buckets.items():
            if bucket >= floor and (s := sums.get(key)) is not None:
                fees += s[0]
                realised += s[1]
        return fees, realised

    def __len__(self) -> int:
        """Buckets held (what memory grows with)."""
        return len(self._buckets)

    def _forget(self) -> None:
        horizon = self._newest - self._keep_ms
        for bucket in [b for b in self._buckets if b < horizon]:
            del self._buckets[bucket]

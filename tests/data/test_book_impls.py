"""Both sides of the book (the C one when built, the pure Python fallback)
against a reference written here: a plain dict of Decimal per side, with
Binance's sequencing spelled out the simple way.

Random streams deliver diffs in order, lose some (gaps), deliver old ones
again (stale), and hand over snapshots of the exchange's book at random
moments; prices and quantities come as texts in any spelling ("0",
"0.00000000", "0E-8" are all a removal; "100.5" and "100.50000000" one
level), on a grid wider than the sorted top the sides keep, so removals
eat into it, re-adds refill it and wide reads go past it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bastion.data.book import SIDES, BookState, OrderBook

D = Decimal
Raw = list[list[str]]


class Reference:
    """The book as the rules say it, in Decimal, with no cleverness."""

    def __init__(self) -> None:
        self.sides: dict[str, dict[Decimal, Decimal]] = {"bids": {}, "asks": {}}
        self.state = "waiting"
        self.last = 0
        self.buffer: list[tuple[int, int, Raw, Raw]] = []

    def snapshot(self, last: int, bids: Raw, asks: Raw) -> None:
        for name, raw in (("bids", bids), ("asks", asks)):
            self.sides[name] = {D(p): D(q) for p, q in raw if D(q) > 0}
        self.last, self.state = last, "syncing"
        held, self.buffer = self.buffer, []
        for i, diff in enumerate(held):
            self.apply(*diff)
            if self.state == "waiting":
                self.buffer.extend(held[i + 1 :])
                break

    def apply(self, first: int, last: int, bids: Raw, asks: Raw) -> str:
        if self.state == "waiting":
            self.buffer.append((first, last, bids, asks))
            return "buffered"
        if last <= self.last:
            return "stale"
        if first > self.last + 1 or (self.state == "live" and first != self.last + 1):
            self.state, self.buffer = "waiting", [(first, last, bids, asks)]
            return "gap"
        self.state, self.last = "live", last
        for name, raw in (("bids", bids), ("asks", asks)):
            side = self.sides[name]
            for p, q in raw:
                if D(q) == 0:
                    side.pop(D(p), None)
                else:
                    side[D(p)] = D(q)
        return "applied"

    def best(self, name: str) -> float | None:
        side = self.sides[name]
        if not side:
            return None
        return float(max(side) if name == "bids" else min(side))

    def levels(self, name: str, n: int) -> list[tuple[float, float]]:
        side = self.sides[name]
        ordered = sorted(side, reverse=name == "bids")[:n]
        return [(float(p), float(side[p])) for p in ordered]

    def depth(self, bps: float) -> tuple[float, float] | None:
        bid, ask = self.best("bids"), self.best("asks")
        if bid is None or ask is None:
            return None
        mid = (bid + ask) / 2.0  # the limits as the book computes them, in float
        lo, hi = mid * (1 - bps / 1e4), mid * (1 + bps / 1e4)
        b = sum((q for p, q in self.sides["bids"].items() if float(p) >= lo), D(0))
        a = sum((q for p, q in self.sides["asks"].items() if float(p) <= hi), D(0))
        return float(b), float(a)


def spell(value: Decimal, how: int) -> str:
    return [f"{value:.2f}", f"{value:.8f}", str(value.normalize()), f"{value:f}"][how % 4]


ticks = st.integers(0, 300)  # 301 prices a side: wider than the 64 kept sorted
zero = st.sampled_from(["0", "0.00000000", "0.0", "0E-8", "0.00"])
qty = st.one_of(zero, st.sampled_from(["0.5", "1.00000000", "2", "0.00012345", "1.5E+1"]))
level = st.tuples(ticks, qty, st.integers(0, 3))
diff = st.tuples(st.lists(level, max_size=40), st.lists(level, max_size=40))
send = st.tuples(st.just("send"), diff)
step = st.one_of(
    send,
    send,
    send,  # most of a stream is diffs in order
    st.tuples(st.just("lose"), diff),  # the exchange moves on, the book never hears it
    st.tuples(st.just("again"), st.integers(0, 10**6)),  # an old diff once more: stale
    # remove the k-th best level: the edge of the sorted top is where a side slips
    st.tuples(st.just("cut"), st.tuples(st.booleans(), st.sampled_from([0, 1, 62, 63, 64]))),
    st.tuples(st.just("snapshot"), st.booleans()),
    st.tuples(st.just("snapshot"), st.booleans()),
    st.tuples(st.just("read"), st.integers(1, 80)),  # around the sorted top's 64 too
)


def cut(exchange: dict[str, dict[Decimal, Decimal]], arg: tuple[bool, int]) -> tuple[str, Any]:
    """The diff that removes the k-th best level of a side (nothing if it has fewer)."""
    bids, k = arg
    ordered = sorted(exchange["bids" if bids else "asks"], reverse=bids)
    if len(ordered) <= k:
        return "none", None
    level = (int(abs(ordered[k] - (D("99.99") if bids else D("100.00"))) * 100), "0", 1)
    return "send", ([level], []) if bids else ([], [level])


def raw_side(levels: list[tuple[int, str, int]], base: Decimal, sign: int) -> Raw:
    return [[spell(base + sign * D(t) / 100, how), q] for t, q, how in levels]


@pytest.mark.parametrize("impl", sorted(SIDES))
@settings(max_examples=150, deadline=None)
@given(st.integers(0, 301), st.integers(0, 301), st.lists(step, min_size=1, max_size=100))
@example(100, 5, [("snapshot", False), ("cut", (True, 63))])  # the sorted top's last level
def test_every_side_equals_the_decimal_reference_on_any_stream(
    impl: str, n_bids: int, n_asks: int, steps: list[tuple[str, Any]]
) -> None:
    book = OrderBook("X", side=impl)
    ref = Reference()
    exchange = {  # a wide book to start from, or none: the first snapshot brings it
        "bids": {D("99.99") - D(t) / 100: D(1) for t in range(n_bids)},
        "asks": {D("100.00") + D(t) / 100: D(2) for t in range(n_asks)},
    }
    exchange_id = 0
    sent: list[tuple[int, int, Raw, Raw]] = []
    for planned in steps:
        kind, arg = cut(exchange, planned[1]) if planned[0] == "cut" else planned
        if kind in ("send", "lose"):
            bids = raw_side(arg[0], D("99.99"), -1)  # bids at or below 99.99
            asks = raw_side(arg[1], D("100.00"), 1)  # asks at or above 100.00: never crossed
            first, exchange_id = exchange_id + 1, exchange_id + 1 + len(arg[0]) // 3
            for name, raw in (("bids", bids), ("asks", asks)):
                for p, q in raw:
                    if D(q) == 0:
                        exchange[name].pop(D(p), None)
                    else:
                        exchange[name][D(p)] = D(q)
            if kind == "lose":
                continue
            sent.append((first, exchange_id, bids, asks))
            outcome = book.apply(first, exchange_id, bids, asks, ts=exchange_id)
            assert outcome.value == ref.apply(first, exchange_id, bids, asks)
        elif kind == "again" and sent:
            first, last, bids, asks = sent[arg % len(sent)]
            outcome = book.apply(first, last, bids, asks, ts=last)
            assert outcome.value == ref.apply(first, last, bids, asks)
        elif kind == "snapshot":
            snap = {
                name: [[spell(p, int(arg)), spell(q, 1)] for p, q in levels.items()]
                for name, levels in exchange.items()
            }
            # as ccxt hands it (floats) or as the REST body has it (texts)
            as_floats = {n: {float(p): float(q) for p, q in r} for n, r in snap.items()}
            given_bids, given_asks = (
                (as_floats["bids"], as_floats["asks"]) if arg else (snap["bids"], snap["asks"])
            )
            book.load_snapshot(exchange_id, given_bids, given_asks, ts=exchange_id)
            ref.snapshot(exchange_id, snap["bids"], snap["asks"])
        elif kind == "read":
            assert book.levels("bids", arg) == ref.levels("bids", arg)
            assert book.levels("asks", arg) == ref.levels("asks", arg)
        assert book.state.value == ref.state and book.last_id == ref.last
        assert (book.best_bid, book.best_ask) == (ref.best("bids"), ref.best("asks"))
        assert not book.crossed()
        want = ref.depth(15.0)
        if want is not None:
            assert book.depth_within(15.0) == (pytest.approx(want[0]), pytest.approx(want[1]))
    for name in ("bids", "asks"):
        want_all = ref.levels(name, 1_000)
        assert book.levels(name, 1_000) == want_all
        for n in range(1, 80):  # every width, each read through whatever the side kept
            assert book.levels(name, n) == want_all[:n]
    top = book.top(now=exchange_id)
    if top.bid is not None:
        assert top.bid_qty == ref.levels("bids", 1)[0][1]
    assert top.synced == (book.state is BookState.LIVE)


price_text = st.one_of(
    st.decimals(min_value=D("0.00000001"), max_value=D("9999999"), places=8).map(str),
    st.decimals(min_value=D(1), max_value=D(10) ** 18, places=0).map(str),  # past 15 digits
    st.sampled_from(["1e3", "1.5E+2", " 42.5", "1_000.25", "00000000000000061737.63", "7."]),
)


@pytest.mark.parametrize("impl", sorted(SIDES))
@settings(max_examples=300, deadline=None)
@given(st.lists(price_text, min_size=1, max_size=20, unique=True))
def test_a_price_text_means_what_float_says_it_means(impl: str, texts: list[str]) -> None:
    """The C side reads digits itself and hands the rest to ``float()``: either
    way a level's price is exactly ``float(text)``."""
    book = OrderBook("X", side=impl)
    book.load_snapshot(0, {}, {}, ts=0)

    book.apply(1, 1, [[t, "1"] for t in texts], [], ts=1)

    want = sorted({float(t) for t in texts}, reverse=True)
    assert [p for p, _ in book.levels("bids", 100)] == want

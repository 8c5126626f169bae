"""The L2 book: Binance's update-id rules, crossed books, staleness, and a
reference model for everything a sequence of diffs can do to it."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.data.book import BookState, DiffOutcome, LevelParser, OrderBook, parse_levels
from bastion.data.paths import shared_data_dir

SNAP_BIDS = {100.0: 1.0, 99.0: 2.0, 98.0: 3.0}
SNAP_ASKS = {101.0: 1.5, 102.0: 2.5}


def synced(last_id: int = 100) -> OrderBook:
    book = OrderBook("BTCUSDT", stale_ms=1_000)
    book.load_snapshot(last_id, SNAP_BIDS, SNAP_ASKS, ts=0)
    return book


def test_diffs_already_in_the_snapshot_are_dropped() -> None:
    book = synced(100)

    assert book.apply(90, 100, {100.0: 9.0}, {}, ts=1) is DiffOutcome.STALE

    assert book.bids[100.0] == 1.0
    assert book.state is BookState.SYNCING
    assert book.dropped == 1


def test_the_first_diff_must_straddle_last_update_id_plus_one() -> None:
    book = synced(100)

    assert book.apply(95, 105, {100.0: 0.0}, {101.0: 4.0}, ts=1) is DiffOutcome.APPLIED

    assert book.state is BookState.LIVE
    assert book.best_bid == 99.0  # a zero quantity removes the level
    assert book.top(now=1).ask_qty == 4.0


def test_a_first_diff_beyond_the_snapshot_is_a_gap() -> None:
    book = synced(100)

    assert book.apply(102, 110, {100.0: 5.0}, {}, ts=1) is DiffOutcome.GAP

    assert book.needs_snapshot
    assert book.gaps[-1].expected == 101
    assert book.bids[100.0] == 1.0  # nothing from the gapped diff was applied


def test_a_gap_in_the_live_sequence_resyncs_from_the_next_snapshot() -> None:
    book = synced(100)
    book.apply(101, 103, {100.0: 5.0}, {}, ts=1)

    outcome = book.apply(105, 107, {97.0: 1.0}, {}, ts=2)  # 104 is missing

    assert outcome is DiffOutcome.GAP
    assert book.needs_snapshot
    assert not book.top(now=2).usable
    # the held diff is replayed against the fresh snapshot
    assert book.load_snapshot(104, {96.0: 1.0}, {103.0: 1.0}, ts=3) == 1
    assert book.state is BookState.LIVE
    assert book.last_id == 107
    assert sorted(p for p, q in book.bids.items() if q) == [96.0, 97.0]


def test_diffs_before_the_snapshot_are_buffered_and_replayed() -> None:
    book = OrderBook("BTCUSDT")
    assert book.apply(90, 95, {100.0: 7.0}, {}, ts=1) is DiffOutcome.BUFFERED
    assert book.apply(96, 103, {99.0: 8.0}, {}, ts=2) is DiffOutcome.BUFFERED
    assert book.apply(104, 104, {98.0: 0.0}, {}, ts=3) is DiffOutcome.BUFFERED

    applied = book.load_snapshot(100, SNAP_BIDS, SNAP_ASKS, ts=2)

    assert applied == 2  # [90,95] is in the snapshot, [96,103] straddles 101, then 104
    assert book.state is BookState.LIVE
    assert book.bids[100.0] == 1.0 and book.bids[99.0] == 8.0 and book.bids[98.0] == 0.0


def test_a_snapshot_older_than_the_buffered_diffs_waits_for_another() -> None:
    book = OrderBook("BTCUSDT")
    book.apply(200, 205, {100.0: 7.0}, {}, ts=1)
    book.apply(206, 210, {100.0: 6.0}, {}, ts=2)

    book.load_snapshot(150, SNAP_BIDS, SNAP_ASKS, ts=2)

    assert book.needs_snapshot
    assert book.buffered_from == 200  # both diffs kept for the next snapshot
    assert book.load_snapshot(204, SNAP_BIDS, SNAP_ASKS, ts=3) == 2
    assert book.bids[100.0] == 6.0


def test_crossed_and_locked_books_are_detected() -> None:
    book = synced(100)
    book.apply(101, 101, {101.0: 1.0}, {}, ts=1)  # bid at the best ask: locked

    assert book.crossed()
    assert not book.top(now=1).usable
    book.apply(102, 102, {102.5: 1.0}, {}, ts=2)  # through it: crossed
    assert book.top(now=2).crossed


def test_a_book_without_news_goes_stale() -> None:
    book = synced(100)
    book.apply(101, 101, {}, {101.0: 2.0}, ts=1_000)

    assert book.top(now=1_900).usable
    assert book.top(now=2_001).stale


def test_depth_within_bps_counts_only_levels_near_the_mid() -> None:
    book = OrderBook("BTCUSDT")
    book.load_snapshot(1, {100.0: 1.0, 99.95: 2.0, 99.0: 50.0}, {100.1: 3.0, 101.0: 40.0}, ts=0)

    bids, asks = book.depth_within(10.0)  # mid 100.05: 99.95 .. 100.15

    assert (bids, asks) == (3.0, 3.0)


# --------------------------------------------------------------- a reference model
prices = st.integers(9_900, 10_100).map(lambda t: t / 100)
side = st.dictionaries(prices, st.sampled_from([0.0, 0.5, 1.0, 2.0]), max_size=12)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(side, side), min_size=1, max_size=120), st.integers(0, 3))
def test_the_book_equals_a_plain_dict_model_whatever_the_diffs(
    diffs: list[tuple[dict[float, float], dict[float, float]]], every: int
) -> None:
    """Tombstones, the cached top and sweeps never change what the book says."""
    book = OrderBook("X")
    book.load_snapshot(0, {}, {}, ts=0)
    model: dict[str, dict[float, float]] = {"bids": {}, "asks": {}}
    for n, (bids, asks) in enumerate(diffs, start=1):
        book.apply(n, n, bids, asks, ts=n)
        for name, levels in (("bids", bids), ("asks", asks)):
            for p, q in levels.items():
                if q:
                    model[name][p] = q
                else:
                    model[name].pop(p, None)
        if every and n % every == 0:
            assert book.best_bid == max(model["bids"], default=None)
            assert book.best_ask == min(model["asks"], default=None)
    assert book.levels("bids", 500) == sorted(model["bids"].items(), reverse=True)
    assert book.levels("asks", 500) == sorted(model["asks"].items())
    mid_ok = model["bids"] and model["asks"]
    if mid_ok:
        mid = (max(model["bids"]) + min(model["asks"])) / 2
        want = sum(q for p, q in model["bids"].items() if p >= mid * (1 - 25 / 1e4))
        assert book.depth_within(25)[0] == pytest.approx(want)


wide_price = st.integers(0, 400).map(lambda t: f"{100 + t / 100:.2f}")  # 401 ticks: > the top
text_side = st.lists(
    st.tuples(wide_price, st.sampled_from(["0.00000000", "0.5", "1.00000000", "2"])), max_size=40
)
read = st.sampled_from(["best", "depth", "levels", "none"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(text_side, text_side, read), min_size=1, max_size=150))
def test_the_interned_book_equals_the_model_read_any_way_at_any_time(
    diffs: list[tuple[list[tuple[str, str]], list[tuple[str, str]], str]],
) -> None:
    """Wide books (more levels than the cached top), interned floats, and every
    read path at random moments: the lazily kept best, the top refresh, the
    rescan after the top is eaten, depth and levels all agree with a plain model."""
    book = OrderBook("X")
    book.load_snapshot(0, {}, {}, ts=0)
    parse = LevelParser()
    model: dict[str, dict[float, float]] = {"bids": {}, "asks": {}}
    for n, (raw_bids, raw_asks, how) in enumerate(diffs, start=1):
        bids, asks = parse(raw_bids), parse(raw_asks)
        assert bids == parse_levels(raw_bids) and asks == parse_levels(raw_asks)
        book.apply(n, n, bids, asks, ts=n)
        for name, levels in (("bids", bids), ("asks", asks)):
            for p, q in levels.items():
                if q:
                    model[name][p] = q
                else:
                    model[name].pop(p, None)
        best_bid = max(model["bids"], default=None)
        best_ask = min(model["asks"], default=None)
        if how == "best":
            assert (book.best_bid, book.best_ask) == (best_bid, best_ask)
            assert book.crossed() == (
                best_bid is not None and best_ask is not None and best_bid >= best_ask
            )
        elif how == "depth" and best_bid is not None and best_ask is not None:
            mid = (best_bid + best_ask) / 2
            lo, hi = mid * (1 - 30 / 1e4), mid * (1 + 30 / 1e4)
            want_b = sum(q for p, q in model["bids"].items() if p >= lo)
            want_a = sum(q for p, q in model["asks"].items() if p <= hi)
            assert book.depth_within(30) == (pytest.approx(want_b), pytest.approx(want_a))
        elif how == "levels":
            assert book.levels("bids", 10) == sorted(model["bids"].items(), reverse=True)[:10]
            assert book.levels("asks", 10) == sorted(model["asks"].items())[:10]
    assert book.levels("bids", 500) == sorted(model["bids"].items(), reverse=True)
    assert book.levels("asks", 500) == sorted(model["asks"].items())


# --------------------------------------------------------------- recorded streams
def _depth_lines(name: str) -> list[dict[str, Any]]:
    data = shared_data_dir()
    path = None if data is None else data / "ticks" / name
    if path is None or not Path(path).exists():
        pytest.skip(f"recorded stream {name} not found (../shared/data/ticks)")
    out = []
    with gzip.open(path, "rb") as fh:
        for line in fh:
            msg = orjson.loads(line.partition(b" ")[2])
            if "lastUpdateId" in msg:
                out.append(msg)
            elif msg.get("data", {}).get("e") == "depthUpdate":
                out.append(msg["data"])
    return out


def _feed(book: OrderBook, msgs: list[dict[str, Any]]) -> list[DiffOutcome]:
    outcomes = []
    for m in msgs:
        if "lastUpdateId" in m:
            book.load_snapshot(
                m["lastUpdateId"], parse_levels(m["bids"]), parse_levels(m["asks"]), 0
            )
        else:
            b, a = parse_levels(m["b"]), parse_levels(m["a"])
            outcomes.append(book.apply(m["U"], m["u"], b, a, m["E"]))
            if book.state is BookState.LIVE:
                assert not book.crossed(), f"crossed after diff {m['U']}..{m['u']}"
    return outcomes


@pytest.mark.parametrize("symbol", ["btcusdt", "ethusdt"])
def test_the_recorded_binance_stream_syncs_on_its_snapshot_and_never_gaps(symbol: str) -> None:
    """Day one holds a REST snapshot taken after the stream opened: Binance's own
    sequence. Two diffs predate it, one straddles it, the rest follow in order."""
    msgs = _depth_lines(f"binance_spot_{symbol}_20240808.jsonl.gz")
    msgs += _depth_lines(f"binance_spot_{symbol}_20240809.jsonl.gz")
    book = OrderBook(symbol.upper())

    outcomes = _feed(book, msgs)

    assert book.gaps == []
    assert book.dropped == 2  # held, then found to be in the snapshot
    assert book.state is BookState.LIVE and book.complete
    assert book.applied + book.dropped == len(outcomes)  # every diff accounted for


def test_a_book_from_the_second_day_alone_starts_empty_and_keeps_sequence() -> None:
    msgs = _depth_lines("binance_spot_btcusdt_20240809.jsonl.gz")
    book = OrderBook("BTCUSDT")
    book.start_from_stream()

    outcomes = _feed(book, msgs)

    assert set(outcomes) == {DiffOutcome.APPLIED}
    assert book.gaps == [] and not book.complete
    assert not book.top(now=book.updated_ms).synced  # partial: never used to size orders


def test_a_dropped_recorded_diff_is_found_by_its_update_ids() -> None:
    msgs = _depth_lines("binance_spot_btcusdt_20240809.jsonl.gz")
    dropped = msgs.pop(500)
    book = OrderBook("BTCUSDT")
    book.start_from_stream()

    outcomes = _feed(book, msgs)

    assert outcomes.count(DiffOutcome.GAP) == 1
    gap = book.gaps[0]
    assert gap.expected == dropped["U"] and gap.first_id == dropped["u"] + 1
    assert book.resyncs == 1 and book.state is BookState.LIVE


def test_a_top_shrunk_by_removals_still_reads_the_levels_beyond_it():
    """Found by the property test in CI: 65 asks, the top of 64 read, then the best
    removed; the top shrank to 63 with its floor still finite, and a wide read or
    the depth took those 63 for the whole side (the 65th ask was missing)."""
    book = OrderBook("X")
    book.load_snapshot(0, {}, {}, ts=0)
    asks = {100.0 + i / 100: 0.5 for i in range(65)}
    book.apply(1, 1, {99.0: 1.0}, asks, ts=1)
    assert book.best_ask == 100.0 and len(book.levels("asks", 10)) == 10  # the top is cut
    book.apply(2, 2, {}, {100.0: 0.0}, ts=2)
    assert book.levels("asks", 500) == sorted((p, q) for p, q in asks.items() if p != 100.0)
    assert book.depth_within(5_000)[1] == pytest.approx(0.5 * 64)  # every ask within 50%

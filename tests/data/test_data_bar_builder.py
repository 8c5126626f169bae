"""The bar builder's dedupe, reorder window and late-trade handling.

Each behaviour has a test that fails when its code is removed: the trade-id
dedupe, the amendment of a closed bar by a trade inside the reorder window
(journaled with the bar before and after), and the journaling of a trade
beyond it (its bar unchanged). Streams replayed with duplicates and shuffles
inside the window give the same bars, on generated streams (hypothesis) and
on the recorded Binance trades in ``../shared/data/ticks``.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.data.bar_builder import BarBuilder
from bastion.data.gate import DataGate
from bastion.data.paths import shared_data_dir
from bastion.model import Bar
from bastion.model.indicators import SMA

SYM = "BTC/USDT"
MIN = 60_000
T0 = 1_723_161_600_000  # 2024-08-09T00:00:00Z
Trade = tuple[str, int, float, float]  # id, ts, price, qty


class Journal:
    def __init__(self) -> None:
        self.events: list[tuple[str, int, dict[str, Any]]] = []

    def __call__(self, kind: str, ts: int, payload: dict[str, Any]) -> None:
        self.events.append((kind, ts, payload))

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [p for k, _, p in self.events if k == kind]


def final_bars(trades: list[Trade], *, reorder_ms: int = 2_000) -> dict[int, Bar]:
    """Bars as emitted, with every correction applied, plus the last open bar."""
    out: dict[int, Bar] = {}

    def corrected(_before: Bar | None, after: Bar) -> None:
        out[after.ts] = after

    builder = BarBuilder(SYM, MIN, Journal(), reorder_ms=reorder_ms, on_correction=corrected)
    for t in trades:
        for bar in builder.on_trade(*t):
            out[bar.ts] = bar
    for bar in builder.on_clock(10**15):
        out[bar.ts] = bar
    return dict(sorted(out.items()))


def assert_same_bars(got: dict[int, Bar], want: dict[int, Bar]) -> None:
    assert list(got) == list(want)
    for ts, bar in want.items():
        g = got[ts]
        assert (g.open, g.high, g.low, g.close) == (bar.open, bar.high, bar.low, bar.close), ts
        assert g.volume == pytest.approx(bar.volume, rel=1e-9, abs=1e-12), ts


def shuffled(trades: list[Trade], rng: random.Random, window_ms: int, dups: float) -> list[Trade]:
    """Each trade delayed by up to ``window_ms`` of exchange time (so it arrives at most
    that far behind the newest trade), plus copies of some trades arriving later."""
    keyed = [(t[1] + rng.uniform(0, window_ms), i, t) for i, t in enumerate(trades)]
    for i, t in enumerate(trades):
        if rng.random() < dups:
            keyed.append((t[1] + rng.uniform(0, 20 * window_ms), len(trades) + i, t))
    return [t for _, _, t in sorted(keyed)]


# ------------------------------------------------------------------ dedupe
def test_a_trade_sent_twice_counts_once() -> None:
    journal = Journal()
    b = BarBuilder(SYM, MIN, journal)
    b.on_trade("1", T0 + 1_000, 100.0, 1.0)
    b.on_trade("2", T0 + 2_000, 101.0, 2.0)
    b.on_trade("2", T0 + 2_000, 101.0, 2.0)  # resent after a reconnect

    (bar,) = b.on_clock(T0 + MIN + 1_000)

    assert bar.volume == 3.0
    assert b.duplicates == 1


def test_a_duplicate_arriving_after_its_bar_closed_changes_nothing() -> None:
    journal = Journal()
    b = BarBuilder(SYM, MIN, journal)
    b.on_trade("1", T0 + 59_000, 100.0, 1.0)
    (closed,) = b.on_trade("2", T0 + MIN + 100, 102.0, 1.0)

    b.on_trade("1", T0 + 59_000, 100.0, 1.0)  # the same print again, late

    assert closed.volume == 1.0
    assert journal.kinds("bar_corrected") == [] and journal.kinds("late_trade") == []
    assert b.duplicates == 1


# ---------------------------------------------------------- reorder window
def test_a_late_trade_inside_the_window_amends_its_bar_and_journals_before_and_after() -> None:
    journal = Journal()
    seen: list[tuple[Bar | None, Bar]] = []
    b = BarBuilder(
        SYM, MIN, journal, reorder_ms=2_000, on_correction=lambda x, y: seen.append((x, y))
    )
    b.on_trade("1", T0 + 10_000, 100.0, 1.0)
    b.on_trade("2", T0 + 59_000, 101.0, 1.0)
    (closed,) = b.on_trade("4", T0 + MIN + 200, 103.0, 1.0)

    b.on_trade("3", T0 + 59_900, 99.0, 0.5)  # 300 ms behind the newest trade

    (payload,) = journal.kinds("bar_corrected")
    assert payload["before"] == {
        "ts": T0, "open": 100.0, "high": 101.0, "low": 100.0, "close": 101.0, "volume": 2.0,
    }  # fmt: skip
    assert payload["after"] == {
        "ts": T0, "open": 100.0, "high": 101.0, "low": 99.0, "close": 99.0, "volume": 2.5,
    }  # fmt: skip
    assert payload["trade_id"] == "3"
    (before, after) = seen[0]
    assert before == closed and after.low == 99.0 and after.close == 99.0
    assert journal.kinds("late_trade") == []


def test_a_late_trade_beyond_the_window_is_journaled_and_its_bar_stays() -> None:
    journal = Journal()
    seen: list[Any] = []
    b = BarBuilder(SYM, MIN, journal, reorder_ms=2_000, on_correction=lambda x, y: seen.append(y))
    b.on_trade("1", T0 + 10_000, 100.0, 1.0)
    (closed,) = b.on_trade("3", T0 + MIN + 5_000, 103.0, 1.0)

    b.on_trade("2", T0 + 59_000, 50.0, 9.0)  # 6 s behind the newest trade

    (late,) = journal.kinds("late_trade")
    assert late["trade_id"] == "2" and late["behind_ms"] == 6_000
    assert journal.kinds("bar_corrected") == [] and seen == []
    assert b.late == 1
    (next_bar,) = b.on_clock(T0 + 2 * MIN + 1_000)
    assert next_bar.ts == T0 + MIN and next_bar.low == 103.0  # nor folded into the next bar
    assert closed.low == 100.0


def test_late_trades_after_the_clock_closed_every_bar_open_no_bar_again() -> None:
    journal = Journal()
    b = BarBuilder(SYM, MIN, journal, reorder_ms=2_000)
    b.on_trade("1", T0 + 10_000, 100.0, 1.0)
    b.on_trade("3", T0 + MIN + 5_000, 103.0, 1.0)  # closes the first minute
    (second,) = b.on_clock(T0 + 2 * MIN + 1_000)  # a quiet market: the clock closes the second

    b.on_trade("2", T0 + 59_000, 50.0, 9.0)  # 6 s behind: late
    b.on_trade("4", T0 + MIN + 59_000, 104.0, 1.0)  # inside the window: amends the second

    assert [p["trade_id"] for p in journal.kinds("late_trade")] == ["2"]
    (fix,) = journal.kinds("bar_corrected")
    assert fix["before"]["ts"] == second.ts and fix["after"]["close"] == 104.0
    assert b.on_clock(T0 + 10 * MIN) == []  # no bar reopened for either minute


def test_a_late_trade_for_an_interval_that_had_no_bar_creates_it_as_a_correction() -> None:
    journal = Journal()
    b = BarBuilder(SYM, MIN, journal, reorder_ms=5_000)
    b.on_trade("1", T0 + 30_000, 100.0, 1.0)
    b.on_trade("3", T0 + 2 * MIN + 1_000, 102.0, 1.0)  # closes the first bar

    b.on_trade("2", T0 + 2 * MIN - 1_000, 101.0, 1.0)  # the middle minute, 2 s late

    (payload,) = journal.kinds("bar_corrected")
    assert payload["before"] is None and payload["after"]["ts"] == T0 + MIN
    (open_bar,) = b.on_clock(T0 + 3 * MIN + 1_000)
    assert open_bar.ts == T0 + 2 * MIN and open_bar.volume == 1.0  # not folded in there


def test_open_and_close_follow_exchange_time_not_arrival() -> None:
    b = BarBuilder(SYM, MIN, Journal())
    b.on_trade("2", T0 + 2_000, 101.0, 1.0)
    b.on_trade("1", T0 + 1_000, 100.0, 1.0)  # earlier print, arrives second
    b.on_trade("4", T0 + 4_000, 104.0, 1.0)
    b.on_trade("3", T0 + 4_000, 103.0, 1.0)  # same ms, lower id: not the close

    (bar,) = b.on_clock(T0 + MIN + 1_000)

    assert (bar.open, bar.close, bar.high, bar.low) == (100.0, 104.0, 104.0, 100.0)


def test_the_gate_re_applies_an_amended_newest_bar_to_its_indicators() -> None:
    sma = SMA(3)
    gate = DataGate({SYM: MIN}, max_age_ms=2 * MIN, sink=Journal(), keep_prior=True)
    gate.view[SYM].add_indicators([sma])
    for i, c in enumerate((10.0, 20.0, 30.0)):
        gate.on_bar(SYM, T0 + i * MIN, c, c, c, c, 1.0)
    assert gate.view[SYM].value(sma) == 20.0

    fixed = Bar(symbol=SYM, ts=T0 + 2 * MIN, interval_ms=MIN, open=30, high=30, low=0,
                close=0.0, volume=2.0)  # fmt: skip
    assert gate.amend(fixed)

    sv = gate.view[SYM]
    assert sv.value(sma) == 10.0 and sv.close == 0.0 and sv.bars == 3
    gate.on_bar(SYM, T0 + 3 * MIN, 40, 40, 40, 40, 1.0)
    assert sv.value(sma) == pytest.approx(20.0)  # (20 + 0 + 40) / 3: the corrected history
    old = Bar(symbol=SYM, ts=T0, interval_ms=MIN, open=1, high=1, low=1, close=1, volume=1)
    assert not gate.amend(old)  # not the newest bar: nothing changes
    assert sv.value(sma) == pytest.approx(20.0)


# -------------------------------------------------------------- properties
trade_lists = st.lists(
    st.tuples(
        st.integers(0, 5 * MIN),
        st.sampled_from([99.0, 100.0, 100.5, 101.0, 102.25]),
        st.sampled_from([0.001, 0.5, 1.0, 2.0]),
    ),
    min_size=1,
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(raw=trade_lists, seed=st.integers(0, 2**32 - 1), window=st.sampled_from([0, 500, 3_000]))
def test_duplicates_and_shuffles_inside_the_window_give_the_same_bars(
    raw: list[tuple[int, float, float]], seed: int, window: int
) -> None:
    trades = [(str(i), T0 + ts, p, q) for i, (ts, p, q) in enumerate(sorted(raw))]
    want = final_bars(trades, reorder_ms=window)

    got = final_bars(shuffled(trades, random.Random(seed), window, 0.2), reorder_ms=window)

    assert_same_bars(got, want)


def _recorded_trades(path: Path) -> list[Trade]:
    out: list[Trade] = []
    with gzip.open(path, "rb") as fh:
        for line in fh:
            _, _, msg = line.partition(b" ")
            if b"@trade" not in msg[:40]:
                continue
            d = orjson.loads(msg)["data"]
            out.append((str(d["t"]), int(d["T"]), float(d["p"]), float(d["q"])))
    return out


@pytest.mark.slow
def test_recorded_binance_trades_replayed_with_duplicates_and_shuffles_give_the_same_bars() -> None:
    root = shared_data_dir()
    ticks = root / "ticks" if root is not None else Path("../shared/data/ticks")
    files = sorted(ticks.glob("binance_spot_btcusdt_*.jsonl.gz")) if ticks.is_dir() else []
    if not files:
        pytest.skip(f"recorded ticks not found in {ticks} (set BASTION_DATA_DIR)")
    trades = [t for f in files for t in _recorded_trades(f)]
    assert len(trades) > 10_000
    want = final_bars(trades)
    assert len(want) >= 10

    for seed in range(5):  # seeded trials: different shuffles, same bars
        got = final_bars(shuffled(trades, random.Random(seed), 2_000, 0.05))
        assert_same_bars(got, want)

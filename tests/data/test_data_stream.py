"""Bars streamed from Parquet a batch at a time are the bars ``load_bars`` loads
whole, and a bad file is refused with the loader's one-line error, wherever
the batches or row groups fall."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.data import DataError, load_bars, random_walk_bars
from bastion.data.stream import ParquetBars, open_bars
from bastion.model import BarSeries, BarSource

COLUMNS = ("ts", "open", "high", "low", "close", "volume")


def write(path: Path, series: BarSeries, row_group: int, **replace: np.ndarray) -> Path:
    table = pa.table({c: replace.get(c, getattr(series, c)) for c in COLUMNS})
    pq.write_table(table, path, row_group_size=row_group)
    return path


def joined(source: BarSource, rows: int) -> dict[str, np.ndarray]:
    chunks = list(source.chunks(rows))
    assert all(0 < len(c) <= rows for c in chunks)
    return {c: np.concatenate([getattr(ch, c) for ch in chunks]) for c in COLUMNS}


def load_error(path: Path) -> str:
    with pytest.raises(DataError) as whole:
        load_bars(path)
    return str(whole.value)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(1, 3_000),
    row_group=st.integers(1, 1_000),
    batch=st.integers(1, 1_000),
    seed=st.integers(0, 2**16),
)
def test_streamed_chunks_are_the_loaded_bars(
    tmp_path: Path, n: int, row_group: int, batch: int, seed: int
) -> None:
    path = write(tmp_path / "x_BTC_USDT_1m.parquet", random_walk_bars(n, seed=seed), row_group)

    whole = load_bars(path)
    streamed = ParquetBars.checked(path, batch_rows=batch)

    assert (len(streamed), streamed.first_ts, streamed.interval_ms) == (
        len(whole),
        whole.first_ts,
        whole.interval_ms,
    )
    assert (streamed.symbol, streamed.source, streamed.synthetic) == (
        whole.symbol,
        whole.source,
        whole.synthetic,
    )
    got = joined(streamed, batch)
    for c in COLUMNS:
        assert np.array_equal(got[c], getattr(whole, c)), c


def test_interval_inferred_from_the_steps_as_the_loader_does(tmp_path: Path) -> None:
    bars = random_walk_bars(500, seed=3, interval_ms=300_000)
    ts = bars.ts.copy()
    ts[200:] += 3_600_000  # one gap: the modal step is still 5 minutes
    path = write(tmp_path / "bars.parquet", bars, 64, ts=ts)

    streamed = open_bars(path, symbol="BTC/USDT")

    assert streamed.interval_ms == load_bars(path, symbol="BTC/USDT").interval_ms == 300_000


@pytest.mark.parametrize(
    ("label", "at", "delta"),
    [("duplicate", 0, 0), ("unsorted", 0, -60_000), ("overlapping", 0, 30_000)],
)
@pytest.mark.parametrize("seam", [100, 101, 99])
def test_a_bad_timestamp_across_the_seam_of_two_row_groups_is_refused_as_loaded(
    tmp_path: Path, label: str, at: int, delta: int, seam: int
) -> None:
    bars = random_walk_bars(400, seed=7)
    ts = bars.ts.copy()
    ts[seam + at] = ts[seam + at - 1] + delta  # row ``seam`` opens a new row group
    path = write(tmp_path / "x_BTC_USDT_1m.parquet", bars, 100, ts=ts)
    expected = load_error(path)

    with pytest.raises(DataError) as streamed:
        ParquetBars.checked(path, batch_rows=100)  # the batches' own check, no fallback
    with pytest.raises(DataError) as opened:
        open_bars(path)

    assert str(streamed.value) == str(opened.value) == expected
    assert f"row {seam}," in expected


@pytest.mark.parametrize(
    "breakage",
    ["null_close", "nan_open", "high_below_low", "negative_volume", "seconds_then_ms", "no_rows"],
)
def test_any_bad_file_is_refused_with_the_loaders_one_line_error(
    tmp_path: Path, breakage: str
) -> None:
    bars = random_walk_bars(300, seed=11)
    cols: dict[str, object] = {}
    if breakage == "null_close":
        cols["close"] = pa.array([None if i == 250 else v for i, v in enumerate(bars.close)])
    elif breakage == "nan_open":
        cols["open"] = np.where(np.arange(300) == 180, np.nan, bars.open)
    elif breakage == "high_below_low":
        cols["high"] = np.where(np.arange(300) == 120, bars.low - 1, bars.high)
    elif breakage == "negative_volume":
        cols["volume"] = np.where(np.arange(300) == 299, -1.0, bars.volume)
    elif breakage == "seconds_then_ms":  # each row group alone is one unit: the file is not
        cols["ts"] = np.where(np.arange(300) < 100, bars.ts // 1000, bars.ts)
    table = pa.table({c: cols.get(c, getattr(bars, c)) for c in COLUMNS})
    if breakage == "no_rows":
        table = table.slice(0, 0)
    path = tmp_path / "x_BTC_USDT_1m.parquet"  # the interval named: the batches read it all
    pq.write_table(table, path, row_group_size=100)
    expected = load_error_named(path)

    with pytest.raises(DataError):
        ParquetBars.checked(path, symbol="BTC/USDT", batch_rows=100)  # found batch by batch
    with pytest.raises(DataError) as opened:
        open_bars(path, symbol="BTC/USDT")

    assert str(opened.value) == expected


def load_error_named(path: Path) -> str:
    with pytest.raises(DataError) as whole:
        load_bars(path, symbol="BTC/USDT")
    return str(whole.value)


def test_other_formats_are_loaded_whole(tmp_path: Path) -> None:
    bars = random_walk_bars(50, seed=1)
    path = tmp_path / "x_BTC_USDT_1m.csv"
    path.write_text(
        "ts,open,high,low,close,volume\n"
        + "".join(
            f"{t},{o!r},{h!r},{lo!r},{c!r},{v!r}\n"
            for t, o, h, lo, c, v in zip(*(getattr(bars, c).tolist() for c in COLUMNS), strict=True)
        )
    )

    source = open_bars(path)

    assert isinstance(source, BarSeries) and isinstance(source, BarSource)
    assert np.array_equal(source.close, bars.close)

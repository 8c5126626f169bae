"""Every supported file layout loads into the same bars; bad files are refused precisely."""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyarrow import feather

from bastion.data import DataError, load_bars
from bastion.model.bars import BarSeries

T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
MINUTE = 60_000
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")

Rows = list[tuple[int, float, float, float, float, float]]


def assert_same_bars(loaded: BarSeries, rows: Rows) -> None:
    expected = np.array(rows, dtype=np.float64)
    assert loaded.ts.dtype == np.int64
    np.testing.assert_array_equal(loaded.ts, [row[0] for row in rows])
    for i, name in enumerate(PRICE_COLUMNS, start=1):
        values = getattr(loaded, name)
        assert values.dtype == np.float64
        np.testing.assert_array_equal(values, expected[:, i])


def csv_text(rows: Rows, header: str | None = "ts,open,high,low,close,volume") -> str:
    lines = [header] if header else []
    lines += [",".join(repr(v) if isinstance(v, float) else str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def iso(ts_ms: int, suffix: str = "Z") -> str:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ts_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + suffix


def kline_line(row: tuple[int, float, float, float, float, float], ts: int) -> str:
    """One data.binance.vision kline row: 12 fields, close time = open + interval - 1 unit."""
    _, o, h, low, c, v = row
    return f"{ts},{o},{h},{low},{c},{v},{ts + 59_999},{v * c},42,{v / 2},{v * c / 2},0"


# --- Parquet and feather -------------------------------------------------------------


def test_parquet_round_trip_takes_symbol_and_interval_from_the_name(
    tmp_path: Path, rows: Rows
) -> None:
    path = tmp_path / "binance_BTC_USDT_1m_2024-01-01_2024-01-02.parquet"
    columns = list(zip(*rows, strict=True))
    pq.write_table(
        pa.table(
            {"ts": pa.array(columns[0], pa.int64())}
            | {name: pa.array(columns[i + 1], pa.float64()) for i, name in enumerate(PRICE_COLUMNS)}
        ),
        path,
    )

    bars = load_bars(path)

    assert_same_bars(bars, rows)
    assert (bars.symbol, bars.interval_ms, bars.synthetic) == ("BTC/USDT", MINUTE, False)
    assert bars.source == f"parquet:{path}"


def test_parquet_with_datetime_column_named_timestamp(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "bars.parquet"
    columns = list(zip(*rows, strict=True))
    stamps = pa.array([ts * 1_000_000 for ts in columns[0]], pa.timestamp("ns", tz="UTC"))
    table = {"Timestamp": stamps} | {
        name.upper(): pa.array(columns[i + 1], pa.float32() if name == "volume" else pa.float64())
        for i, name in enumerate(PRICE_COLUMNS)
    }
    pq.write_table(pa.table(table | {"trades": pa.array([1] * len(rows))}), path)

    bars = load_bars(path, symbol="ETH/USDT")

    assert_same_bars(bars, rows)
    assert (bars.symbol, bars.interval_ms) == ("ETH/USDT", MINUTE)


def test_freqtrade_feather_round_trip(tmp_path: Path, rows: Rows) -> None:
    pd = pytest.importorskip("pandas")
    path = tmp_path / "BTC_USDT-1m.feather"
    frame = pd.DataFrame(rows, columns=["date", *PRICE_COLUMNS])
    frame["date"] = pd.to_datetime(frame["date"], unit="ms", utc=True)
    frame.to_feather(path)

    bars = load_bars(path)

    assert_same_bars(bars, rows)
    assert (bars.symbol, bars.interval_ms) == ("BTC/USDT", MINUTE)
    assert bars.source.startswith("feather:")


def test_arrow_file_with_naive_datetimes_reads_them_as_utc(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "ETH_USDT-1m.arrow"
    columns = list(zip(*rows, strict=True))
    table = {"date": pa.array(columns[0], pa.timestamp("ms"))} | {
        name: pa.array(columns[i + 1]) for i, name in enumerate(PRICE_COLUMNS)
    }
    feather.write_feather(pa.table(table), path)

    assert_same_bars(load_bars(path), rows)


# --- CSV -----------------------------------------------------------------------------


def test_csv_round_trip_with_header(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "kraken_ETH_EUR_1m_2024.csv"
    path.write_text(csv_text(rows))

    bars = load_bars(path)

    assert_same_bars(bars, rows)
    assert (bars.symbol, bars.interval_ms) == ("ETH/EUR", MINUTE)
    assert bars.source == f"csv:{path}"


@pytest.mark.parametrize(
    ("scale", "divisor"),
    [(1, 1_000), (1, 1), (1_000, 1), (1_000_000, 1)],
    ids=["seconds", "milliseconds", "microseconds", "nanoseconds"],
)
def test_csv_epoch_units_are_recognised_by_magnitude(
    tmp_path: Path, rows: Rows, scale: int, divisor: int
) -> None:
    path = tmp_path / "bars.csv"
    scaled = [(row[0] * scale // divisor, *row[1:]) for row in rows]
    path.write_text(csv_text(scaled))

    assert_same_bars(load_bars(path, symbol="BTC/USDT"), rows)


def test_csv_fractional_epoch_seconds(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "bars.csv"
    text = csv_text(rows)
    for row in rows:
        text = text.replace(str(row[0]), f"{row[0] / 1000:.3f}")
    path.write_text(text)

    assert_same_bars(load_bars(path, symbol="BTC/USDT"), rows)


def test_csv_iso_timestamps_naive_zulu_and_offsets_all_become_utc(
    tmp_path: Path, rows: Rows
) -> None:
    path = tmp_path / "bars.csv"
    suffixes = ["", "z", "+00:00", "+0530", "-05:00"]
    shifts = [0, 0, 0, 330 * MINUTE, -300 * MINUTE]  # local time = UTC + offset
    lines = ["timestamp,open,high,low,close,volume"]
    for row, suffix, shift in zip(rows, suffixes, shifts, strict=True):
        lines.append(",".join([iso(row[0] + shift, suffix), *map(repr, row[1:])]))
    path.write_text("\n".join(lines) + "\n")

    assert_same_bars(load_bars(path, symbol="BTC/USDT"), rows)


def test_csv_iso_forms_only_python_parses(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "bars.csv"
    lines = ["date,open,high,low,close,volume"]
    for i, row in enumerate(rows):
        basic = iso(row[0], "Z").replace("-", "").replace(":", "")  # 20240101T000000Z
        stamp = basic if i % 2 else iso(row[0], " +00:00")
        lines.append(",".join([stamp, *map(repr, row[1:])]))
    path.write_text("\n".join(lines) + "\n")

    assert_same_bars(load_bars(path, symbol="BTC/USDT"), rows)


def test_csv_header_is_case_and_space_insensitive_and_extra_columns_are_ignored(
    tmp_path: Path, rows: Rows
) -> None:
    path = tmp_path / "bars.csv"
    body = csv_text(rows, header=None).replace("\n", ",x\n")
    path.write_text(' "TS" , Open,HIGH,low,Close,Volume,note\n' + body)

    assert_same_bars(load_bars(path, symbol="BTC/USDT"), rows)


def test_csv_blank_lines_are_skipped_and_lines_still_count(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "bars.csv"
    good = csv_text(rows).splitlines()
    path.write_text("\n" + "\n".join([*good[:3], "", *good[3:]]) + "\n\n\n")

    assert_same_bars(load_bars(path, symbol="BTC/USDT"), rows)

    bad = [*good[:3], "", *good[3:]]
    bad[-1] = bad[-1].replace("101.0,101.0,2.0", "101.0,101.0,-2.0")  # row 4, line 8
    path.write_text("\n" + "\n".join(bad) + "\n")
    with pytest.raises(DataError) as caught:
        load_bars(path, symbol="BTC/USDT")
    assert (caught.value.row, caught.value.line, caught.value.column) == (4, 8, "volume")


def test_headerless_csv_with_iso_timestamps(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "BTC_USDT-1m.csv"
    path.write_text("".join(f"{iso(r[0])},{','.join(map(repr, r[1:]))}\n" for r in rows))

    assert_same_bars(load_bars(path), rows)


def test_gzipped_csv(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "BTC_USDT-1m.csv.gz"
    path.write_bytes(gzip.compress(csv_text(rows).encode()))

    assert_same_bars(load_bars(path), rows)


# --- Binance kline CSV -----------------------------------------------------------------


def test_binance_kline_csv_in_milliseconds(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "BTCUSDT-1m-2024-01.csv"
    path.write_text("\n".join(kline_line(row, row[0]) for row in rows) + "\n")

    bars = load_bars(path)

    assert_same_bars(bars, rows)
    assert (bars.symbol, bars.interval_ms) == ("BTC/USDT", MINUTE)
    assert bars.source.startswith("csv:")


def test_binance_kline_csv_from_2025_in_microseconds_inside_a_zip(
    tmp_path: Path, rows: Rows
) -> None:
    path = tmp_path / "ETHUSDT-1m-2025-01.zip"
    text = "\n".join(kline_line(row, row[0] * 1_000) for row in rows) + "\n"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ETHUSDT-1m-2025-01.csv", text)

    bars = load_bars(path)

    assert_same_bars(bars, rows)
    assert bars.symbol == "ETH/USDT"


def test_binance_kline_csv_with_header_row(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "BTCUSDT-1m-2024-01.csv"
    header = (
        "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
        "taker_buy_volume,taker_buy_quote_volume,ignore"
    )
    path.write_text(header + "\n" + "\n".join(kline_line(row, row[0]) for row in rows))

    assert_same_bars(load_bars(path), rows)


def test_mixed_ms_and_us_timestamps_are_refused(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "BTCUSDT-1m-2025-01.csv"
    lines = [kline_line(row, row[0] * (1_000 if i >= 3 else 1)) for i, row in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(DataError) as caught:
        load_bars(path)

    error = caught.value
    assert (error.row, error.line, error.column) == (3, 4, "ts")
    assert "row 0 looks like ms and this one like us" in str(error)


# --- freqtrade JSON --------------------------------------------------------------------


def test_freqtrade_json_round_trip(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "BTC_USDT-1m.json"
    path.write_bytes(orjson.dumps([list(row) for row in rows]))

    bars = load_bars(path)

    assert_same_bars(bars, rows)
    assert (bars.symbol, bars.interval_ms) == ("BTC/USDT", MINUTE)
    assert bars.source.startswith("json:")


def test_freqtrade_gzipped_json_futures_name(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "BTC_USDT_USDT-1m-futures.json.gz"
    path.write_bytes(gzip.compress(orjson.dumps([list(row) for row in rows])))

    bars = load_bars(path)

    assert_same_bars(bars, rows)
    assert bars.symbol == "BTC/USDT:USDT"


def test_json_row_that_is_not_six_numbers_is_named(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "BTC_USDT-1m.json"
    data: list[list[object]] = [list(row) for row in rows]
    data[2][4] = "n/a"
    path.write_bytes(orjson.dumps(data))

    with pytest.raises(DataError) as caught:
        load_bars(path)

    assert (caught.value.row, caught.value.column, caught.value.value) == (2, "close", "n/a")
    assert "row 2" in str(caught.value)
    assert "column 'close': got 'n/a'; expected a number" in str(caught.value)


def test_json_short_row_is_named(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "BTC_USDT-1m.json"
    data = [list(row) for row in rows]
    data[1] = data[1][:5]
    path.write_bytes(orjson.dumps(data))

    with pytest.raises(DataError, match=r"row 1: got .*expected a row \[ts, open, high, low"):
        load_bars(path)


# --- symbol and interval ---------------------------------------------------------------


def test_arguments_win_over_the_file_name(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "binance_BTC_USDT_1m_2024.csv"
    path.write_text(csv_text(rows))

    bars = load_bars(path, symbol="XBT/USD", interval_ms=30_000)

    assert (bars.symbol, bars.interval_ms) == ("XBT/USD", 30_000)


def test_interval_is_the_most_common_step_when_the_name_has_none(
    tmp_path: Path, rows: Rows
) -> None:
    path = tmp_path / "bars.csv"
    with_gap = [rows[0], *((r[0] + 5 * MINUTE, *r[1:]) for r in rows[1:])]
    path.write_text(csv_text(with_gap))

    assert load_bars(path, symbol="BTC/USDT").interval_ms == MINUTE


def test_missing_symbol_is_an_error_not_a_guess(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "bars.csv"
    path.write_text(csv_text(rows))

    with pytest.raises(DataError, match=r"bars\.csv.*expected a symbol: pass symbol="):
        load_bars(path)


def test_single_row_without_interval_is_an_error(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "bars.csv"
    path.write_text(csv_text(rows[:1]))

    with pytest.raises(DataError, match="expected an interval: pass interval_ms="):
        load_bars(path, symbol="BTC/USDT")
    assert len(load_bars(path, symbol="BTC/USDT", interval_ms=MINUTE)) == 1


def test_file_name_interval_contradicted_by_the_data_is_refused(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "binance_BTC_USDT_1h_2024.csv"
    path.write_text(csv_text(rows))

    with pytest.raises(DataError, match=r"no two rows 3600000 ms apart.*expected bars 1h apart"):
        load_bars(path)


# --- refusals --------------------------------------------------------------------------


def test_bad_number_names_row_line_column_and_value(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "bars.csv"
    lines = csv_text(rows).splitlines()
    lines[3] = lines[3].replace("100.75,0.0", "abc,0.0")  # data row 2, line 4
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(DataError) as caught:
        load_bars(path, symbol="BTC/USDT")

    error = caught.value
    assert (error.path, error.row, error.line, error.column, error.value) == (
        str(path),
        2,
        4,
        "close",
        "abc",
    )
    assert str(error) == f"{path}, row 2 (line 4), column 'close': got 'abc'; expected a number"


def test_empty_cell_is_named(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "bars.csv"
    lines = csv_text(rows).splitlines()
    lines[2] = lines[2].replace(",102.0,", ",,")
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(DataError, match=r"row 1 \(line 3\), column 'high': got None; expected a"):
        load_bars(path, symbol="BTC/USDT")


def test_bad_timestamp_names_row_and_value(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "bars.csv"
    lines = csv_text(rows).splitlines()
    lines[5] = lines[5].replace(str(rows[4][0]), "yesterday")
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(DataError) as caught:
        load_bars(path, symbol="BTC/USDT")

    assert (caught.value.row, caught.value.line, caught.value.column) == (4, 6, "ts")
    assert "got 'yesterday'; expected an epoch timestamp" in str(caught.value)


def test_ragged_line_is_named(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "BTCUSDT-1m-2024-01.csv"
    lines = [kline_line(row, row[0]) for row in rows]
    lines[2] = lines[2].rsplit(",", 1)[0]
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(DataError) as caught:
        load_bars(path)

    assert caught.value.line == 3
    assert "expected 12 comma-separated fields, as on line 1" in str(caught.value)


def test_validation_errors_carry_the_csv_line(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "bars.csv"
    lines = csv_text(rows).splitlines()
    lines[4] = lines[4].replace("100.75,103.0,100.5", "100.75,99.0,100.5")  # high < low
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(DataError) as caught:
        load_bars(path, symbol="BTC/USDT")

    assert str(caught.value) == (
        f"{path}, row 3 (line 5), column 'high': got 99.0; expected high >= low (100.5)"
    )


def test_validation_errors_from_parquet_name_the_row(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "bars.parquet"
    columns = [list(c) for c in zip(*rows, strict=True)]
    columns[0][3] = columns[0][2]  # duplicate timestamp at row 3
    names = ["ts", *PRICE_COLUMNS]
    pq.write_table(pa.table(dict(zip(names, columns, strict=True))), path)

    with pytest.raises(DataError) as caught:
        load_bars(path, symbol="BTC/USDT", interval_ms=MINUTE)

    assert (caught.value.row, caught.value.line, caught.value.column) == (3, None, "ts")
    assert "duplicate timestamp" in str(caught.value)


def test_parquet_nulls_are_named(tmp_path: Path, rows: Rows) -> None:
    path = tmp_path / "bars.parquet"
    columns: list[list[object]] = [list(c) for c in zip(*rows, strict=True)]
    columns[5][1] = None
    names = ["ts", *PRICE_COLUMNS]
    pq.write_table(pa.table(dict(zip(names, columns, strict=True))), path)

    with pytest.raises(DataError, match=r"row 1, column 'volume': got None; expected a number"):
        load_bars(path, symbol="BTC/USDT")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bars.xlsx", b"", r"got '\.xlsx'; expected a file ending in \.parquet"),
        ("bars.csv", b"\n\n", "got 'empty file'; expected at least one bar"),
        ("bars.csv", b"ts,open,high,low,close\n1,2,3,4,5\n", "expected a column named 'volume'"),
        ("bars.csv", b"when,open,high,low,close,volume\n", "expected a timestamp column named"),
        ("bars.csv", b"1,2,3\n", "expected a header naming ts"),
        ("bars.json", b"{}", "got 'dict'; expected a JSON list"),
        ("bars.json", b"[[1, 2", "expected valid JSON"),
        ("bars.json", b"[]", "expected at least one bar"),
    ],
)
def test_unreadable_files_are_refused_with_the_reason(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(DataError, match=message) as caught:
        load_bars(path, symbol="BTC/USDT", interval_ms=MINUTE)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("name", ["bars.parquet", "bars.feather", "bars.csv.gz", "bars.zip"])
def test_corrupt_files_are_data_errors(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"this is not what the suffix promises")

    with pytest.raises(DataError, match=r"expected a (readable|valid) ") as caught:
        load_bars(path, symbol="BTC/USDT")
    assert caught.value.path == str(path)


def test_missing_file_is_not_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_bars(tmp_path / "nowhere.parquet", symbol="BTC/USDT")


def test_header_only_csv_has_no_bars(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text("ts,open,high,low,close,volume\n")

    with pytest.raises(DataError, match="expected at least one bar"):
        load_bars(path, symbol="BTC/USDT", interval_ms=MINUTE)


def test_zip_must_hold_exactly_one_file(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m-2024-01.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", "1,2,3,4,5,6\n")
        archive.writestr("b.csv", "1,2,3,4,5,6\n")

    with pytest.raises(DataError, match="exactly one CSV file"):
        load_bars(path)


def test_loaded_arrays_are_read_only(
    tmp_path: Path, rows: Rows, make_series: Callable[..., BarSeries]
) -> None:
    path = tmp_path / "BTC_USDT-1m.csv"
    path.write_text(csv_text(rows))

    bars = load_bars(path)

    for name in ("ts", *PRICE_COLUMNS):
        with pytest.raises(ValueError, match="read-only"):
            getattr(bars, name)[0] = 1

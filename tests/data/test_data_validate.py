"""Every broken invariant is refused, naming the first bad row, its column and value."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from bastion.data import DataError, validate_bars
from bastion.model.bars import BarSeries

T0 = 1_704_067_200_000
MINUTE = 60_000

Rows = list[tuple[int, float, float, float, float, float]]
MakeSeries = Callable[..., BarSeries]


def with_cell(rows: Rows, row: int, column: int, value: float) -> Rows:
    changed = [list(r) for r in rows]
    changed[row][column] = value
    return [tuple(r) for r in changed]  # type: ignore[misc]


def test_clean_bars_pass(rows: Rows, make_series: MakeSeries) -> None:
    validate_bars(make_series(rows))
    validate_bars(make_series(rows[:1]))
    validate_bars(make_series([]))


def test_bars_with_a_gap_pass(rows: Rows, make_series: MakeSeries) -> None:
    gapped = [rows[0], *((r[0] + 10 * MINUTE, *r[1:]) for r in rows[1:])]

    validate_bars(make_series(gapped))


@pytest.mark.parametrize(
    ("row", "column", "value", "bad_column", "message"),
    [
        (3, 0, T0 + 2 * MINUTE, "ts", "duplicate timestamp"),
        (3, 0, T0 + 1 * MINUTE, "ts", "rows must be sorted by ts"),
        (3, 0, T0 + 2 * MINUTE + 1_000, "ts", "at least interval_ms=60000 after row 2's"),
        (2, 1, 0.0, "open", "expected a finite price > 0"),
        (2, 4, -1.0, "close", "expected a finite price > 0"),
        (2, 2, float("nan"), "high", "expected a finite price > 0"),
        (2, 3, float("inf"), "low", "expected a finite price > 0"),
        (2, 5, -0.5, "volume", "expected a finite volume >= 0"),
        (2, 5, float("nan"), "volume", "expected a finite volume >= 0"),
        (2, 5, float("inf"), "volume", "expected a finite volume >= 0"),
        (1, 2, 99.0, "high", "expected high >= low (100.0)"),
        (1, 2, 101.0, "high", "expected high >= max(open, close) (101.5)"),
        (1, 3, 100.6, "low", "expected low <= min(open, close) (100.5)"),
    ],
)
def test_each_broken_invariant_names_row_column_and_value(
    rows: Rows,
    make_series: MakeSeries,
    row: int,
    column: int,
    value: float,
    bad_column: str,
    message: str,
) -> None:
    series = make_series(with_cell(rows, row, column, value))

    with pytest.raises(DataError) as caught:
        validate_bars(series, path="bars.csv")

    error = caught.value
    assert (error.path, error.row, error.column) == ("bars.csv", row, bad_column)
    text = str(error)
    assert text.startswith(f"bars.csv, row {row}, column {bad_column!r}: got ")
    assert message in text
    expected_value = value if column == 0 else float(value)
    if expected_value == expected_value:  # NaN never equals itself
        assert error.value == expected_value


def test_first_offending_row_wins_across_checks(rows: Rows, make_series: MakeSeries) -> None:
    broken = with_cell(rows, 3, 1, -5.0)  # row 3: bad open (an early check)
    broken = with_cell(broken, 1, 3, 100.9)  # row 1: low above the open (a late check)

    with pytest.raises(DataError) as caught:
        validate_bars(make_series(broken))

    assert (caught.value.row, caught.value.column) == (1, "low")


def test_ties_on_one_row_follow_the_check_order(rows: Rows, make_series: MakeSeries) -> None:
    broken = with_cell(rows, 2, 5, -1.0)  # volume
    broken = with_cell(broken, 2, 1, 0.0)  # open: price checks come before volume

    with pytest.raises(DataError) as caught:
        validate_bars(make_series(broken))

    assert (caught.value.row, caught.value.column) == (2, "open")


def test_message_without_a_path_says_the_bars_are_in_memory(
    rows: Rows, make_series: MakeSeries
) -> None:
    with pytest.raises(DataError, match=r"^<bars in memory>, row 4, column 'volume': got -1\.0"):
        validate_bars(make_series(with_cell(rows, 4, 5, -1.0)))


def test_validation_does_not_change_the_series(rows: Rows, make_series: MakeSeries) -> None:
    series = make_series(with_cell(rows, 4, 5, -1.0))
    before = series.volume.copy()

    with pytest.raises(DataError):
        validate_bars(series)

    np.testing.assert_array_equal(series.volume, before)


def test_error_is_a_value_error() -> None:
    assert issubclass(DataError, ValueError)
    error = DataError("a number", path="f.csv", row=0, line=2, column="open", value=np.float64(2))
    assert str(error) == "f.csv, row 0 (line 2), column 'open': got 2.0; expected a number"
    assert error.with_line(9).line == 9
    assert "line 9" in str(error.with_line(9))


def test_error_survives_pickling() -> None:
    import pickle

    error = DataError("a number", path="f.csv", row=3, line=5, column="close", value="abc")
    whole_file = DataError("at least one bar", path="f.csv")

    again = pickle.loads(pickle.dumps(error))
    file_again = pickle.loads(pickle.dumps(whole_file))

    assert str(again) == str(error)
    assert (again.row, again.line, again.column, again.value) == (3, 5, "close", "abc")
    assert not file_again.has_value
    assert str(file_again) == "f.csv: expected at least one bar"

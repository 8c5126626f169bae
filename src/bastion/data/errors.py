"""The one error bad market data raises.

A backtest that silently runs on a broken file produces numbers nobody should
trust, so every loader and check refuses bad input with a ``DataError`` that
says exactly where to look: the file, the row (0-based, counting data rows
only), the line for text files (1-based, as an editor shows it), the column,
the value found and what was expected instead. The fields are also kept as
attributes so callers and tests need not parse the message.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

import numpy as np


class _Unset(Enum):
    """No offending value (the error is about a whole file); pickles by name."""

    UNSET = "UNSET"


_UNSET: Final = _Unset.UNSET


class DataError(ValueError):
    """Bad market data: names where it is, what was found and what was expected."""

    path: str | None
    row: int | None
    line: int | None
    column: str | None
    value: object
    expected: str

    def __init__(
        self,
        expected: str,
        *,
        path: object = None,
        row: int | None = None,
        line: int | None = None,
        column: str | None = None,
        value: object = _UNSET,
    ) -> None:
        self.path = None if path is None else str(path)
        self.row = None if row is None else int(row)
        self.line = None if line is None else int(line)
        self.column = column
        # NumPy scalars print as ``np.float64(1.0)``; people want ``1.0``.
        self.value = value.item() if isinstance(value, np.generic) else value
        self.expected = expected
        super().__init__(self._message())

    @property
    def has_value(self) -> bool:
        """Whether the error points at one offending value (else: a whole file)."""
        return self.value is not _UNSET

    def with_line(self, line: int | None) -> DataError:
        """The same error with the text line of its row filled in.

        Checks run on columns and know only the row; the loader that read the
        text knows which line that row came from.
        """
        return DataError(
            self.expected,
            path=self.path,
            row=self.row,
            line=line,
            column=self.column,
            value=self.value,
        )

    def __reduce__(self) -> tuple[object, ...]:
        """Survive pickling, e.g. from a worker process of a parallel backtest."""
        value = self.value if self.has_value else _UNSET
        return (_rebuild, (self.expected, self.path, self.row, self.line, self.column, value))

    def _message(self) -> str:
        where = [self.path if self.path is not None else "<bars in memory>"]
        if self.row is not None:
            where.append(f"row {self.row}" + (f" (line {self.line})" if self.line else ""))
        elif self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        got = f"got {self.value!r}; " if self.has_value else ""
        return f"{', '.join(where)}: {got}expected {self.expected}"


def _rebuild(
    expected: str,
    path: str | None,
    row: int | None,
    line: int | None,
    column: str | None,
    value: object,
) -> DataError:
    return DataError(expected, path=path, row=row, line=line, column=column, value=value)

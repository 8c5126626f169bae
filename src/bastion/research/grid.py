"""Parameter grids: what ``--grid fast=10,20,30 slow=50,100,200`` and the
config's ``[research] grid`` mean, expanded into the points a sweep runs.

A value list is comma-separated (``fast=10,20,30``) or an inclusive range
``START:STOP:STEP`` (``fast=10:30:10``). Points come in a fixed order, the
first key varying slowest, so "the first point of the grid" is well defined
(a tie between two points goes to the earlier one). With several strategies a
key is ``ID.PARAM``; a bare key applies to a bot's only strategy.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

Point = dict[str, Any]


def _range(key: str, text: str) -> list[str]:
    parts = text.split(":")
    try:
        start, stop, step = (Decimal(p) for p in parts)
    except (ValueError, InvalidOperation):
        raise ValueError(
            f"--grid {key}={text}: a range is START:STOP:STEP with numbers, e.g. 10:50:10"
        ) from None
    if step <= 0 or stop < start:
        raise ValueError(f"--grid {key}={text}: need STEP > 0 and STOP >= START")
    count = int((stop - start) / step) + 1
    if count > 10_000:
        raise ValueError(f"--grid {key}={text}: {count:,} values; at most 10,000 per key")
    return [str(start + i * step) for i in range(count)]


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """``["fast=10,20", "slow=50:150:50"]`` → ``{"fast": ["10", "20"], "slow": [...]}``."""
    grid: dict[str, list[str]] = {}
    for item in items:
        for word in item.split():
            key, sep, rest = word.partition("=")
            key = key.strip()
            if not sep or not key or not rest.strip():
                raise ValueError(f"--grid {word!r}: expected KEY=V1,V2,... or KEY=START:STOP:STEP")
            if key in grid:
                raise ValueError(f"--grid {key}: given twice")
            text = rest.strip()
            values = (
                _range(key, text)
                if text.count(":") == 2
                else [v.strip() for v in text.split(",") if v.strip()]
            )
            if not values:
                raise ValueError(f"--grid {word!r}: no values")
            if len(set(values)) != len(values):
                raise ValueError(f"--grid {key}: a value is listed twice")
            grid[key] = values
    return grid


def expand(grid: Mapping[str, Sequence[Any]]) -> list[Point]:
    """Every point of the grid, the first key varying slowest; ``[{}]`` for none."""
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def label(point: Mapping[str, Any]) -> str:
    """``fast=10 slow=50``: a point as a person reads it (and as failures name it)."""
    return " ".join(f"{k}={v}" for k, v in point.items()) or "(defaults)"

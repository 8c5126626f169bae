"""Sweep results as a table: one row per grid point, its parameters, its
status and the run's headline figures, ready for Parquet (pyarrow) and for
the heatmap.

Parameter columns are ``param.KEY`` strings, as the grid gave them (so a
value reads back exactly as written); figures are float64 with nulls where a
run had none (a flat run has no Sharpe) or failed; ``return.trend_up`` and
its siblings are the run's return over each market regime's bars. Pure: rows in, an Arrow
table or a matrix out; writing the file is the shell's.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

METRICS = (
    "final_equity",
    "total_return",
    "sharpe",
    "sortino",
    "cagr",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "round_trips",
    "fills",
    "fees",
    "exposure",
)
PARAM_PREFIX = "param."
SPAN = ("bars", "start_ts", "end_ts")  # what the run covered (bar open times, ms UTC)
# The run's return over each regime's bars (docs/research.md), one column each.
REGIMES = (
    ("return.trend_up", "by_trend", "up"),
    ("return.trend_down", "by_trend", "down"),
    ("return.trend_range", "by_trend", "range"),
    ("return.vol_high", "by_volatility", "high"),
    ("return.vol_low", "by_volatility", "low"),
)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _regime(row: Mapping[str, Any], group: str, label: str) -> float | None:
    regimes = (row.get("summary") or {}).get("regimes") or {}
    return _number(((regimes.get(group) or {}).get(label) or {}).get("return"))


def _integer(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def to_table(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> pa.Table:
    """The rows (as ``run_task`` returns them) as an Arrow table, in row order."""
    columns: dict[str, list[Any]] = {
        "index": [int(r["index"]) for r in rows],
        "status": [str(r["status"]) for r in rows],
        "error": [r.get("error") for r in rows],
    }
    for key in keys:
        columns[PARAM_PREFIX + key] = [str(r["point"].get(key)) for r in rows]
    for m in SPAN:
        columns[m] = [_integer((r.get("summary") or {}).get(m)) for r in rows]
    for m in METRICS:
        columns[m] = [_number((r.get("summary") or {}).get(m)) for r in rows]
    for name, group, label in REGIMES:
        columns[name] = [_regime(r, group, label) for r in rows]
    columns["task_s"] = [_number(r.get("task_s")) for r in rows]
    columns["backtest_s"] = [_number((r.get("timing") or {}).get("elapsed_s")) for r in rows]
    schema = pa.schema(
        [("index", pa.int64()), ("status", pa.string()), ("error", pa.string())]
        + [(PARAM_PREFIX + k, pa.string()) for k in keys]
        + [(m, pa.int64()) for m in SPAN]
        + [(m, pa.float64()) for m in (*METRICS, *(n for n, _g, _l in REGIMES))]
        + [(m, pa.float64()) for m in ("task_s", "backtest_s")]
    )
    return pa.table(columns, schema=schema)


@dataclass(frozen=True, slots=True)
class Heat:
    """One heatmap: ``values[i][j]`` is the metric at ``y = ys[i]``, ``x = xs[j]``
    with the other parameters at ``fixed``; None where the run failed or had no
    value; ``errors`` holds the failures' messages at the same places."""

    x: str
    y: str | None
    xs: list[str]
    ys: list[str]
    fixed: dict[str, str]
    values: list[list[float | None]]
    errors: list[list[str | None]]


def heatmaps(
    rows: Sequence[Mapping[str, Any]], grid: Mapping[str, Sequence[Any]], metric: str
) -> list[Heat]:
    """The first two grid keys as x (columns) and y (rows); one heatmap per
    combination of the other keys' values (at most 24 are drawn)."""
    keys = list(grid)
    if not keys:
        return []
    x, y, rest = keys[0], (keys[1] if len(keys) > 1 else None), keys[2:]
    by_point = {tuple(str(r["point"].get(k)) for k in keys): r for r in rows}
    xs = [str(v) for v in grid[x]]
    ys = [str(v) for v in grid[y]] if y is not None else [""]
    out: list[Heat] = []
    for combo in itertools.islice(itertools.product(*(grid[k] for k in rest)), 24):
        fixed = {k: str(v) for k, v in zip(rest, combo, strict=True)}
        values: list[list[float | None]] = []
        errors: list[list[str | None]] = []
        for yv in ys:
            vrow: list[float | None] = []
            erow: list[str | None] = []
            for xv in xs:
                point = {x: xv, **({y: yv} if y is not None else {}), **fixed}
                r = by_point.get(tuple(point[k] for k in keys))
                vrow.append(None if r is None else _number((r.get("summary") or {}).get(metric)))
                erow.append(None if r is None or r["status"] == "ok" else str(r.get("error")))
            values.append(vrow)
            errors.append(erow)
        out.append(Heat(x, y, xs, ys, fixed, values, errors))
    return out

"""``bastion sweep``: every point of a parameter grid backtested, in parallel,
into a Parquet table and a heatmap page.

The tasks go to an executor (``cluster.open_executor``: all local cores by
default, or a Dask cluster); the table keeps the grid's order whatever order
the tasks finished in, so two sweeps of the same grid compare row by row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from bastion.config import BotConfig
from bastion.research.cluster import Done, Executor, Row
from bastion.research.grid import expand
from bastion.research.runner import DataSpec, Task
from bastion.research.table import heatmaps, to_table


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepSpec:
    config: BotConfig
    data: DataSpec
    grid: dict[str, list[Any]]
    strategy: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    base_dir: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None


def sweep_tasks(spec: SweepSpec) -> list[Task]:
    cfg = spec.config.model_dump(mode="json")
    return [
        Task(
            index=i,
            point=point,
            config=cfg,
            data=spec.data,
            strategy=spec.strategy,
            params=spec.params,
            base_dir=spec.base_dir,
            start_ms=spec.start_ms,
            end_ms=spec.end_ms,
        )
        for i, point in enumerate(expand(spec.grid))
    ]


def run_sweep(spec: SweepSpec, executor: Executor, done: Done | None = None) -> list[Row]:
    return executor.run(sweep_tasks(spec), done)


def best_rows(rows: Sequence[Row], metric: str, n: int = 10) -> list[Row]:
    """The ``n`` best finished rows by ``metric`` (undefined values last)."""
    ok = [r for r in rows if r["status"] == "ok"]

    def key(r: Row) -> tuple[int, float]:
        v = (r.get("summary") or {}).get(metric)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return (0, -float(v))
        return (1, 0.0)

    return sorted(ok, key=key)[:n]


def write_sweep(
    rows: Sequence[Row],
    grid: Mapping[str, Sequence[Any]],
    metric: str,
    out: Path,
    *,
    title: str,
    meta: Mapping[str, Any],
) -> dict[str, Path]:
    """``sweep.parquet`` (every row), ``sweep.html`` (heatmaps, the best
    points, every failure with its parameters) and ``sweep.json`` (what ran)."""
    from bastion.research.pages import sweep_page

    out.mkdir(parents=True, exist_ok=True)
    table = to_table(rows, list(grid))
    table_path = out / "sweep.parquet"
    pq.write_table(table, table_path, compression="zstd")
    page = out / "sweep.html"
    page.write_text(
        sweep_page(
            title=title,
            metric=metric,
            heats=heatmaps(rows, grid, metric),
            best=best_rows(rows, metric),
            failed=[r for r in rows if r["status"] != "ok"],
            meta=meta,
        ),
        encoding="utf-8",
    )
    info = out / "sweep.json"
    failed = sum(r["status"] != "ok" for r in rows)
    info.write_text(
        json.dumps(
            {**meta, "grid": grid, "metric": metric, "tasks": len(rows), "failed": failed},
            indent=2,
            default=str,
        )
        + "\n"
    )
    return {"table": table_path, "report": page, "meta": info}

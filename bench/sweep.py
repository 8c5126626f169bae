"""Sweep throughput on Dask: one worker against two, and the overhead Dask adds
to each backtest task.

    .venv/bin/python bench/sweep.py                 # 160 tasks of 1,000 bars
    .venv/bin/python bench/sweep.py --tasks 400 --bars 1000 --repeats 3

Workload: ``--bars`` seeded synthetic 1-minute bars (trend, range, high
volatility, crash) written to a Parquet file the workers read by path; each
task is one whole-bot ``sma_cross`` backtest of it (``bastion.research.runner``,
everything on: data gate, reconciler, risk, order manager, journal), the tasks
differing by their fast/slow periods. Each worker is warmed first (one task
each: imports, the file read once and cached), so the figures are the steady
state of a long sweep, not the cluster's start.

- **throughput ratio**: tasks/s on a LocalCluster of two single-threaded
  worker processes over tasks/s on one (target >= 1.8);
- **overhead per task**: wall time per task on the one-worker cluster minus
  the time the same task takes called directly in this process (target
  < 50 ms).

Each figure is the median of ``--repeats`` runs. Reported as PASS/MISS; a miss
is not an error (the machine may be shared, as ours was).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def _write_bars(path: Path, n: int) -> None:
    from bastion.data.synthetic import regime_bars

    s = regime_bars(n, seed=5, symbol="SYN/USDT", segment_bars=max(50, n // 8))
    pq.write_table(
        pa.table({"ts": s.ts, "open": s.open, "high": s.high, "low": s.low, "close": s.close,
                  "volume": s.volume}),
        path,
    )  # fmt: skip


def _tasks(path: Path, n: int) -> list:
    from bastion.config import BotConfig
    from bastion.research.runner import DataSpec, Task

    cfg = BotConfig().model_dump(mode="json")
    data = DataSpec(sources=(str(path),), symbol="SYN/USDT")
    points = [{"fast": str(5 + i % 20), "slow": str(30 + (i // 20) % 40)} for i in range(n)]
    return [
        Task(index=i, point=p, config=cfg, data=data, strategy="sma_cross")
        for i, p in enumerate(points)
    ]


def _on_cluster(tasks: list, workers: int, repeats: int) -> float:
    """Median seconds to run ``tasks`` on a fresh ``workers``-process cluster."""
    from distributed import Client, LocalCluster

    from bastion.research.cluster import DaskExecutor

    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False},
        silence_logs=logging.ERROR,
    )  # fmt: skip
    try:
        with Client(cluster) as client:
            ex = DaskExecutor(client)
            ex.run(tasks[: workers * 2])  # warm every worker: imports, the file cached
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                rows = ex.run(tasks)
                times.append(time.perf_counter() - t0)
                failed = [r for r in rows if r["status"] != "ok"]
                if failed:
                    raise SystemExit(f"bench task failed: {failed[0]['error']}")
            return statistics.median(times)
    finally:
        cluster.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=160)
    ap.add_argument("--bars", type=int, default=1_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from bastion.research.runner import run_task

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "SYN_USDT_1m.parquet"
        _write_bars(path, args.bars)
        tasks = _tasks(path, args.tasks)
        for t in tasks[:5]:
            run_task(t)  # warm this process the same way
        direct = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            for t in tasks:
                run_task(t)
            direct.append((time.perf_counter() - t0) / len(tasks))
        per_task = statistics.median(direct)
        one = _on_cluster(tasks, 1, args.repeats)
        two = _on_cluster(tasks, 2, args.repeats)

    ratio = one / two
    overhead_ms = (one / len(tasks) - per_task) * 1000
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"workload: {len(tasks)} sma_cross backtests of {args.bars:,} bars each, "
          f"median of {args.repeats}")  # fmt: skip
    print(f"in process: {per_task * 1000:.1f} ms per task ({1 / per_task:,.1f} tasks/s)")
    print(f"1 worker:   {one:.2f} s ({len(tasks) / one:,.1f} tasks/s)")
    print(f"2 workers:  {two:.2f} s ({len(tasks) / two:,.1f} tasks/s)")
    verdict = "PASS" if ratio >= 1.8 else "MISS"
    print(f"throughput ratio 2/1 workers: {ratio:.2f}x (target >= 1.8x): {verdict}")
    verdict = "PASS" if overhead_ms < 50 else "MISS"
    print(f"overhead per task on Dask: {overhead_ms:.1f} ms (target < 50 ms): {verdict}")


if __name__ == "__main__":
    main()

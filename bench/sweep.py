"""Sweep throughput on Dask: one worker against two, and the overhead Dask adds
to each backtest task.

    .venv/bin/python bench/sweep.py                 # 160 tasks of 1,000 bars, 5 pairs
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
  < 50 ms);
- **machine ceiling**: in the same rounds, how much faster two plain Python
  processes (a spin loop, no Dask) got through twice the work than one got
  through it once: on a shared machine two workers cannot beat it, so the
  ratio is also given as a share of it.

The in-process, one-worker and two-worker runs take turns (``--repeats``
rounds, both clusters up throughout) so a change in the machine's load hits
all three alike; the ratio and the overhead are medians over the rounds.
Reported as PASS/MISS; a miss
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
from typing import Any

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


def _cluster(workers: int) -> Any:
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False},
        silence_logs=logging.ERROR,
    )  # fmt: skip


def _timed(ex: Any, tasks: list) -> float:
    t0 = time.perf_counter()
    rows = ex.run(tasks)
    elapsed = time.perf_counter() - t0
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        raise SystemExit(f"bench task failed: {failed[0]['error']}")
    return elapsed


def _direct(tasks: list) -> float:
    from bastion.research.runner import run_task

    t0 = time.perf_counter()
    for t in tasks:
        run_task(t)
    return time.perf_counter() - t0


def spin(n: int) -> float:
    """Plain CPU work, no Dask: what the machine gives one process."""
    t0 = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i
    return time.perf_counter() - t0


def _ceiling(pool: Any, n: int = 3_000_000) -> float:
    """How much faster two plain processes get through twice the work than one
    gets through it once, right now: the most two workers could show."""
    one = pool.apply(spin, (n,))
    t0 = time.perf_counter()
    pool.map(spin, [n, n])
    return 2 * one / (time.perf_counter() - t0)


Round = tuple[float, float, float, float]


def _rounds(tasks: list, repeats: int) -> list[Round]:
    """Per round: seconds for ``tasks`` in this process, on one worker, on two,
    and the machine's two-process ceiling, in turns so that a change in the
    machine's load hits all four alike."""
    from multiprocessing import get_context

    from distributed import Client

    from bastion.research.cluster import DaskExecutor

    one_c, two_c = _cluster(1), _cluster(2)
    try:
        with Client(one_c) as c1, Client(two_c) as c2, get_context("spawn").Pool(2) as pool:
            e1, e2 = DaskExecutor(c1), DaskExecutor(c2)
            _direct(tasks[:4])  # warm every process: imports, the file read and cached
            e1.run(tasks[:4])
            e2.run(tasks[:4])
            return [
                (_direct(tasks), _timed(e1, tasks), _timed(e2, tasks), _ceiling(pool))
                for _ in range(repeats)
            ]
    finally:
        one_c.close()
        two_c.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=160)
    ap.add_argument("--bars", type=int, default=1_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "SYN_USDT_1m.parquet"
        _write_bars(path, args.bars)
        tasks = _tasks(path, args.tasks)
        rounds = _rounds(tasks, args.repeats)

    n = len(tasks)
    per_task = statistics.median(d for d, _, _, _ in rounds) / n
    one = statistics.median(a for _, a, _, _ in rounds)
    two = statistics.median(b for _, _, b, _ in rounds)
    ratios = [a / b for _, a, b, _ in rounds]
    ratio = statistics.median(ratios)
    ceiling = statistics.median(c for _, _, _, c in rounds)
    overhead_ms = statistics.median((a - d) / n for d, a, _, _ in rounds) * 1000
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"workload: {len(tasks)} sma_cross backtests of {args.bars:,} bars each, "
          f"{args.repeats} runs each")  # fmt: skip
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"in process: {per_task * 1000:.1f} ms per task ({1 / per_task:,.1f} tasks/s)")
    print(f"1 worker:   {one:.2f} s ({len(tasks) / one:,.1f} tasks/s)")
    print(f"2 workers:  {two:.2f} s ({len(tasks) / two:,.1f} tasks/s)")
    verdict = "PASS" if ratio >= 1.8 else "MISS"
    print(f"throughput ratio 2/1 workers: {ratio:.2f}x median, {max(ratios):.2f}x best of "
          f"{len(ratios)} (target >= 1.8x): {verdict}")  # fmt: skip
    print(f"machine ceiling: two plain processes ran {ceiling:.2f}x one (median); Dask's "
          f"2/1 ratio is {ratio / ceiling:.0%} of it")  # fmt: skip
    verdict = "PASS" if overhead_ms < 50 else "MISS"
    print(f"overhead per task on Dask: {overhead_ms:.1f} ms (target < 50 ms): {verdict}")


if __name__ == "__main__":
    main()

"""Where a bastion backtest spends its time: cProfile over the reference workload.

    .venv/bin/python bench/profile_backtest.py              # 200,000 bars, top 15 by tottime
    .venv/bin/python bench/profile_backtest.py --bars 50000 --top 30 --sort cumulative

Same workload as ``backtest_throughput.py`` (SMA(20)/SMA(50) cross, 0.1 units,
everything on, SQLite journal in a temporary directory). cProfile roughly
doubles the run time; the shares between functions are what to read.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from bastion.config import BotConfig
from bastion.data.synthetic import random_walk_bars
from bastion.engine.backtest import run_backtest
from bastion.strategy import build_strategy


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bars", type=int, default=200_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--sort", default="tottime", choices=["tottime", "cumulative", "ncalls"])
    p.add_argument("--out", type=Path, default=None, help="also save the raw pstats here")
    args = p.parse_args(argv)

    series = random_walk_bars(args.bars, seed=args.seed)
    strategy = build_strategy("sma_cross", [series.symbol], {"fast": 20, "slow": 50, "qty": "0.1"})
    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory(prefix="bastion-prof-") as tmp:
        started = time.perf_counter()
        profiler.enable()
        result = run_backtest(
            [series], [strategy], BotConfig(), journal_path=Path(tmp) / "journal.sqlite"
        )
        profiler.disable()
        wall = time.perf_counter() - started
    if args.out:
        profiler.dump_stats(args.out)
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    s = result.summary
    print(
        f"{args.bars:,} bars under cProfile: {wall:.2f} s wall ({args.bars / wall:,.0f} bars/s),"
        f" {s['round_trips']:,} round trips, final equity {s['final_equity_exact']}"
    )
    print(f"top {args.top} by {args.sort} (share = tottime / total profiled time {total:.2f} s)")
    rows = sorted(
        stats.stats.items(),  # type: ignore[attr-defined]
        key=lambda kv: {"tottime": kv[1][2], "cumulative": kv[1][3], "ncalls": kv[1][1]}[args.sort],
        reverse=True,
    )[: args.top]
    print(f"{'ncalls':>10} {'tottime':>8} {'share':>6} {'cumtime':>8}  function")
    for (path, line, name), (_cc, nc, tt, ct, _callers) in rows:
        short = path.split("/src/")[-1] if "/src/" in path else Path(path).name
        where = f"{short}:{line}({name})" if line else name
        print(f"{nc:>10,} {tt:>8.3f} {tt / total:>6.1%} {ct:>8.3f}  {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

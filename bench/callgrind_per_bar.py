"""Instructions per bar of a full-stack backtest, counted by callgrind (load-immune).

    .venv/bin/python bench/callgrind_per_bar.py                 # 25,000 minus 5,000 bars
    .venv/bin/python bench/callgrind_per_bar.py --long 50000 --short 10000

Why instructions: the bench machine is shared, so wall and even CPU seconds
move with the neighbours' load; callgrind's instruction count of the same
run is the same to a few parts in a million whatever else runs. The figure is
the whole ``run_backtest`` call (build, cycles, journal close, statistics) on
the reference workload of ``backtest_throughput.py`` (SMA(20)/SMA(50) cross,
0.1 units, everything on) with an in-memory journal, run for ``--long`` and
for ``--short`` bars; the difference divided by the difference in bars is the
per-bar cost with the fixed costs (imports, set-up, summary) cancelled.

Only ``run_backtest`` is counted: the child calls it through
``operator.call``, and callgrind collects only inside that C function
(``--collect-atstart=no --toggle-collect=_operator_call``), so bar generation
and imports are left out. Nothing under ``run_backtest`` calls
``operator.call`` (a nested call would toggle collection off).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

COUNTED = "_operator_call"


def _child(bars: int, seed: int) -> int:
    """Runs inside valgrind: build the bars and the strategy, then count one backtest."""
    import operator

    from bastion.config import BotConfig
    from bastion.data.synthetic import random_walk_bars
    from bastion.engine.backtest import run_backtest
    from bastion.strategy import build_strategy

    series = random_walk_bars(bars, seed=seed)
    strategy = build_strategy("sma_cross", [series.symbol], {"fast": 20, "slow": 50, "qty": "0.1"})
    config = BotConfig()
    result = operator.call(run_backtest, [series], [strategy], config)  # type: ignore[attr-defined]
    s = result.summary
    print(f"bars={bars} round_trips={s['round_trips']} final_equity={s['final_equity_exact']}")
    return 0


def count(bars: int, seed: int) -> tuple[int, str]:
    """Instructions callgrind counted inside ``run_backtest`` on ``bars`` bars, and its output."""
    with tempfile.TemporaryDirectory(prefix="bastion-cg-") as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            f"--toggle-collect={COUNTED}",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--child",
            str(bars),
            "--seed",
            str(seed),
        ]
        env = dict(os.environ, PYTHONHASHSEED="0")
        run = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        m = re.search(r"^summary:\s+(\d+)", out.read_text(), re.MULTILINE)
        if not m:
            raise RuntimeError(f"no summary line in callgrind output\n{run.stderr}")
        return int(m.group(1)), run.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--long", type=int, default=25_000)
    p.add_argument("--short", type=int, default=5_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        return _child(args.child, args.seed)
    long_ir, long_out = count(args.long, args.seed)
    short_ir, short_out = count(args.short, args.seed)
    per_bar = (long_ir - short_ir) / (args.long - args.short)
    print(f"{args.long:>9,} bars: {long_ir:>15,} instructions  ({long_out})")
    print(f"{args.short:>9,} bars: {short_ir:>15,} instructions  ({short_out})")
    print(f"instructions per bar: {per_bar:,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Scaling of a backtest with the length of history and the number of symbols.

    .venv/bin/python bench/scaling.py                       # 100k, 1M, 10M bars; 1, 5, 20 symbols
    .venv/bin/python bench/scaling.py --sizes 100000,1000000 --symbols ""
    .venv/bin/python bench/scaling.py --sizes "" --symbols 1,5 --symbol-bars 50000

Workload: seeded random-walk 1-minute bars (``random_walk_bars``) written to
Parquet files in a temporary directory (row groups of ``--row-group`` rows),
then, in a fresh subprocess per run, the real path end to end: ``open_bars``
on each file (checked in full, then streamed a batch at a time; ``--whole``:
``load_bars``, the whole file in memory), ``sma_cross`` (20/50, 0.1 units) on
every symbol, default config (every risk rule on), journal to a SQLite file in
the temporary directory.

Per run: the wall time of the load and of ``run_backtest``, bars (symbol-bars)
per second of the backtest, the child's peak RSS (``ru_maxrss`` from
``os.wait4``, so the parent's memory never counts), and where the memory sits
(RSS after the imports and after loading, the bars' and the equity curve's
array bytes). The issue-16 target, reported as PASS/MISS: peak RSS at the
largest size within 20% of that at the size ten times smaller.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FLAT_TOLERANCE = 0.20


def _current_rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _write(path: Path, bars: int, seed: int, symbol: str, row_group: int) -> None:
    """Generate one symbol's bars and write them as Parquet (in a child: its
    arrays never sit in the parent)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bastion.data.synthetic import random_walk_bars

    s = random_walk_bars(bars, seed=seed, symbol=symbol)  # start 100, as backtest_throughput
    table = pa.table(
        {
            "ts": s.ts,
            "open": s.open,
            "high": s.high,
            "low": s.low,
            "close": s.close,
            "volume": s.volume,
        }
    )
    pq.write_table(table, path, row_group_size=row_group)


def _run(paths: list[Path], journal: Path, whole: bool) -> dict[str, Any]:
    rss_start = _current_rss_mb()
    from bastion.config import BotConfig
    from bastion.data.loaders import load_bars
    from bastion.data.stream import open_bars
    from bastion.engine.backtest import run_backtest
    from bastion.strategy import build_strategy

    rss_imports = _current_rss_mb()
    started = time.perf_counter()
    series = [load_bars(p) if whole else open_bars(p) for p in paths]
    loaded, cpu_loaded = time.perf_counter(), time.process_time()
    rss_loaded = _current_rss_mb()
    symbols = [s.symbol for s in series]
    strategy = build_strategy("sma_cross", symbols, {"fast": 20, "slow": 50, "qty": "0.1"})
    result = run_backtest(series, [strategy], BotConfig(), journal_path=journal)
    done, cpu_done = time.perf_counter(), time.process_time()
    bars = sum(len(s) for s in series)
    return {
        "symbols": len(series),
        "symbol_bars": bars,
        "timestamps": len(result.curve),  # not len(result.equity): that reads the curve whole
        "load_s": loaded - started,
        "backtest_s": done - loaded,
        "bars_per_s": bars / (done - loaded),
        "cpu_s": cpu_done - cpu_loaded,  # the backtest's CPU time (the machine is shared)
        "load": os.getloadavg()[0],
        "fills": result.summary["fills"],
        "halt_state": result.summary["halt_state"],  # a halted bot stops trading: say so
        "final_equity": result.summary["final_equity_exact"],
        "rss_start_mb": rss_start,
        "rss_imports_mb": rss_imports,
        "rss_loaded_mb": rss_loaded,
        "rss_end_mb": _current_rss_mb(),
        "bars_bytes_mb": sum(
            sum(getattr(s, c).nbytes for c in ("ts", "open", "high", "low", "close", "volume"))
            for s in series
            if hasattr(s, "ts")  # a streamed source holds no bars
        )
        / 2**20,
        "equity_curve_mb": 0.0,  # on the run's tape (disk), not in memory
        "journal_mb": journal.stat().st_size / 2**20 if journal.exists() else 0.0,
    }


def _child(args: list[str], out: Path) -> tuple[float, float]:
    """Run this script with ``args`` in a fresh interpreter; (wall s, peak RSS MB)."""
    started = time.perf_counter()
    pid = os.spawnv(
        os.P_NOWAIT, sys.executable, [sys.executable, __file__, *args, "--out", str(out)]
    )
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"child {args} failed with {status}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024.0  # KiB on Linux


def _measure(
    tmp: Path, label: str, symbols: int, bars: int, seed: int, row_group: int, whole: bool
) -> dict[str, Any]:
    paths = []
    for k in range(symbols):
        path = tmp / f"syn_S{k:02d}_USDT_1m_{bars}.parquet"
        if not path.exists():
            sym = f"S{k:02d}/USDT"
            _child(["--write", str(path), str(bars), str(seed + k), sym, str(row_group)], tmp / "w")
        paths.append(path)
    out = tmp / f"{label}.json"
    journal = tmp / f"{label}.sqlite"
    wall, peak = _child(["--run", "1" if whole else "0", str(journal), *map(str, paths)], out)
    journal.unlink(missing_ok=True)
    result: dict[str, Any] = json.loads(out.read_text())
    result.update(label=label, child_wall_s=wall, peak_rss_mb=peak)
    return result


def _ints(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="100000,1000000,10000000", help="bars, one symbol")
    p.add_argument("--symbols", default="1,5,20", help="symbol counts at --symbol-bars each")
    p.add_argument("--symbol-bars", type=int, default=100_000)
    p.add_argument("--row-group", type=int, default=1_000_000, help="Parquet row-group rows")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument("--whole", action="store_true", help="load_bars each file whole")
    p.add_argument("--pairs", default="", help="extra runs, SYMBOLSxBARS, e.g. 5x1000000")
    p.add_argument("--write", nargs=5, default=None, help=argparse.SUPPRESS)
    p.add_argument("--run", nargs="+", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.write:
        path, bars, seed, sym, row_group = a.write
        _write(Path(path), int(bars), int(seed), sym, int(row_group))
        return 0
    if a.run:
        whole, journal, *paths = a.run
        a.out.write_text(json.dumps(_run([Path(x) for x in paths], Path(journal), whole == "1")))
        return 0

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bastion-scaling-") as tmp_name:
        tmp = Path(tmp_name)
        for bars in _ints(a.sizes):
            results.append(_measure(tmp, f"bars_{bars}", 1, bars, a.seed, a.row_group, a.whole))
            print(_line(results[-1]), flush=True)
        for n in _ints(a.symbols):
            label = f"symbols_{n}x{a.symbol_bars}"
            results.append(_measure(tmp, label, n, a.symbol_bars, a.seed, a.row_group, a.whole))
            print(_line(results[-1]), flush=True)
        for pair in [x for x in a.pairs.split(",") if x.strip()]:
            n, bars = (int(v.replace("_", "")) for v in pair.split("x"))
            label = f"symbols_{n}x{bars}"
            results.append(_measure(tmp, label, n, bars, a.seed, a.row_group, a.whole))
            print(_line(results[-1]), flush=True)
    sizes = [r for r in results if r["label"].startswith("bars_")]
    sizes.sort(key=lambda r: r["timestamps"])
    verdict: dict[str, Any] = {}
    if len(sizes) >= 2:
        big, small = sizes[-1], sizes[-2]
        ratio = big["peak_rss_mb"] / small["peak_rss_mb"]
        verdict = {
            "flat_memory": "PASS" if ratio <= 1 + FLAT_TOLERANCE else "MISS",
            "peak_rss_ratio": round(ratio, 2),
            "between": [small["symbol_bars"], big["symbol_bars"]],
        }
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load": os.getloadavg(),
        },
        "results": results,
        **verdict,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "results"}, indent=2))
    if a.json:
        a.json.write_text(json.dumps(report, indent=2))
    return 0


def _line(r: dict[str, Any]) -> str:
    return (
        f"{r['label']:>22}: {r['symbol_bars']:>10,} symbol-bars  load {r['load_s']:6.2f} s  "
        f"backtest {r['backtest_s']:7.2f} s  {r['bars_per_s']:>9,.0f} bars/s  "
        f"({r['symbol_bars'] / r['cpu_s']:,.0f} per CPU-s, load {r['load']:.1f})  "
        f"{r['fills']} fills, {r['halt_state']}  "
        f"peak RSS {r['peak_rss_mb']:7.1f} MB (after load {r['rss_loaded_mb']:.0f}, "
        f"bars {r['bars_bytes_mb']:.0f}, curve {r['equity_curve_mb']:.0f})"
    )


if __name__ == "__main__":
    sys.exit(main())

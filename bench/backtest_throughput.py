"""Backtest throughput: bastion's full cycle against peer engines, same bars, same rules.

    .venv/bin/python bench/backtest_throughput.py                # 1,000,000 bars, peers too
    .venv/bin/python bench/backtest_throughput.py --no-peers     # bastion only
    .venv/bin/python bench/backtest_throughput.py --peer-bars 200000

Workload (docs/benchmarks.md, "Backtest throughput"): ``--bars`` seeded
geometric-random-walk 1-minute bars (``bastion.data.synthetic.random_walk_bars``),
SMA(20)/SMA(50) crossover, buy 0.1 units when fast crosses above slow, sell the
whole position when it crosses below, market orders filled at the next bar's
open, fee 0.1% of notional, cash 100,000. bastion runs with everything on: data
gate, reconciler, risk gate, order manager and a SQLite journal written to a
temporary directory.

Every engine runs in its own fresh subprocess (so one engine's memory never
inflates another's peak RSS) and reports JSON back. bastion runs
``--bastion-runs`` times; its throughput is the median. Targets: >= 300,000
bars/s end to end (the whole ``run_backtest`` call, journal close and
statistics included) and peak RSS < 400 MB: reported as PASS/MISS, a miss is
not an error. The exit status is non-zero only when a peer engine disagrees
with bastion on the number of closed trades or on final equity to the cent.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TARGET_BARS_PER_S = 300_000
TARGET_RSS_MB = 400.0
FAST, SLOW, QTY, FEE, CASH = 20, 50, "0.1", 0.001, 100_000.0
PEER_ORDER = ("backtesting.py", "backtrader", "python loop")
REFERENCE_ONLY = {"python loop"}  # agreement reported, but never fails the run
CENT = Decimal("0.01")


# --------------------------------------------------------------------------- workers


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _current_rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _worker_bastion(
    bars: int, seed: int, start_price: float, config_path: Path | None
) -> dict[str, Any]:
    from bastion.config import BotConfig, load_config
    from bastion.data.synthetic import random_walk_bars
    from bastion.engine.backtest import run_backtest
    from bastion.observe.trades import round_trips
    from bastion.strategy import build_strategy

    series = random_walk_bars(bars, seed=seed, start_price=start_price)
    strategy = build_strategy(
        "sma_cross", [series.symbol], {"fast": FAST, "slow": SLOW, "qty": QTY}
    )
    config = load_config(config_path) if config_path else BotConfig()
    rss_before = _current_rss_mb()
    with tempfile.TemporaryDirectory(prefix="bastion-bench-") as tmp:
        journal_path = Path(tmp) / "journal.sqlite"
        started, cpu_started = time.perf_counter(), time.process_time()
        result = run_backtest([series], [strategy], config, journal_path=journal_path)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        peak = _peak_rss_mb()
        with sqlite3.connect(journal_path) as db:
            events = db.execute("SELECT count(*) FROM events").fetchone()[0]
            kinds = dict(db.execute("SELECT kind, count(*) FROM events GROUP BY kind").fetchall())
        journal_bytes = sum(p.stat().st_size for p in Path(tmp).iterdir())
    s = result.summary
    t0, step = int(series.ts[0]), series.interval_ms
    trades = [
        (
            (t.entry_ts - t0) // step,
            (t.exit_ts - t0) // step,
            float(t.entry_price),
            float(t.exit_price),
        )
        for t in round_trips(result.fills)
    ]
    position = result.venue.fetch_account().position(series.symbol)
    return {
        "engine": "bastion",
        "bars": bars,
        "closed_trades": s["round_trips"],
        "final_equity_exact": s["final_equity_exact"],
        "final_equity": float(s["final_equity_exact"]),
        "open_qty": float(position),
        "fills": s["fills"],
        "orders": s["orders"],
        "risk_decisions": s.get("risk_decisions"),
        "halt_state": s.get("halt_state"),
        "elapsed_s": wall,
        "bars_per_s": bars / wall,
        "cpu_s": cpu,
        "engine_elapsed_s": s["elapsed_s"],
        "engine_bars_per_s": s["bars_per_s"],
        "peak_rss_mb": peak,
        "rss_before_run_mb": rss_before,
        "journal_events": events,
        "journal_kinds": kinds,
        "journal_bytes": journal_bytes,
        "trades": trades,
        "source": series.source,
    }


def _worker_peer(engine: str, bars: int, seed: int, start_price: float) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from bastion.data.synthetic import random_walk_bars
    from peers import PEERS, bars_frame

    series = random_walk_bars(bars, seed=seed, start_price=start_price)
    df = bars_frame(series)
    del series
    result = PEERS[engine](df, fast=FAST, slow=SLOW, qty=float(QTY), fee=FEE, cash=CASH)
    out = result.to_dict()
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


def _spawn(
    engine: str,
    bars: int,
    seed: int,
    start_price: float,
    out: Path,
    config_path: Path | None = None,
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        engine,
        "--bars",
        str(bars),
        "--seed",
        str(seed),
        "--start-price",
        repr(start_price),
        "--worker-out",
        str(out),
    ]
    if config_path is not None:
        cmd += ["--bastion-config", str(config_path)]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{engine} worker failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


# ------------------------------------------------------------------------ comparison


def _cents(value: str | float) -> Decimal:
    d = Decimal(value) if isinstance(value, str) else Decimal(repr(value))
    return d.quantize(CENT, rounding=ROUND_HALF_EVEN)


def compare(ref: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    """Agreement of ``peer`` with bastion (``ref``): counts, cents, and trade by trade."""
    ref_eq = _cents(ref["final_equity_exact"])
    peer_eq = _cents(peer["final_equity"])
    a = [tuple(t) for t in ref["trades"]]
    b = [tuple(t) for t in peer["trades"]]
    mismatches = []
    for k in range(max(len(a), len(b))):
        ta = a[k] if k < len(a) else None
        tb = b[k] if k < len(b) else None
        same = (
            ta is not None
            and tb is not None
            and ta[:2] == tb[:2]
            and abs(ta[2] - tb[2]) <= 1e-9 * abs(ta[2])
            and abs(ta[3] - tb[3]) <= 1e-9 * abs(ta[3])
        )
        if not same:
            mismatches.append({"index": k, "bastion": ta, "peer": tb})
    trips_ok = ref["closed_trades"] == peer["closed_trades"]
    equity_ok = ref_eq == peer_eq
    return {
        "trips_ok": trips_ok,
        "equity_ok": equity_ok,
        "agree": trips_ok and equity_ok,
        "bastion_equity": str(ref_eq),
        "peer_equity": str(peer_eq),
        "equity_diff": float(
            Decimal(ref["final_equity_exact"]) - Decimal(repr(peer["final_equity"]))
        ),
        "open_qty_ok": abs(ref["open_qty"] - peer["open_qty"]) < 1e-12,
        "trade_mismatches": len(mismatches),
        "first_mismatches": mismatches[:5],
    }


# ---------------------------------------------------------------------------- output


def machine() -> dict[str, str]:
    cpu = "?"
    try:
        for line in (
            Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace").splitlines()
        ):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "code": _code_state(),
    }


def _code_state() -> str:
    """The commit measured, and whether src/ had uncommitted changes."""
    try:
        repo = HERE.parent
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        changed = [line[3:] for line in dirty if line.strip()]
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return head + (f" + uncommitted changes in {len(changed)} src file(s)" if changed else "")


# Issue 16: bastion at least 3x backtesting.py in the same run; the aim, a quarter
# of the bare loop (a Python engine cannot beat the loop it is made of).
RATIO_TARGETS = {"backtesting.py": 3.0, "python loop": 0.25}


def _ratios(peer_results: list[dict[str, Any]], ref_bps: float, ref_cpu: float) -> dict[str, Any]:
    """Print and return bastion's speed as a multiple of each target engine's,
    from this same run, wall and per CPU-second."""
    out: dict[str, Any] = {}
    print()
    for r in peer_results:
        target = RATIO_TARGETS.get(r["engine"])
        if target is None:
            continue
        wall = ref_bps / r["bars_per_s"]
        cpu = ref_cpu * r["cpu_s"] / r["bars"]
        verdict = "PASS" if cpu >= target else "MISS"
        kind = "target" if target >= 1 else "aim"
        print(
            f"  bastion = {wall:.2f}x {r['engine']} (wall), {cpu:.2f}x per CPU-second;"
            f" {kind} >= {target:g}x: {verdict}"
        )
        out[r["engine"]] = {"wall": wall, "cpu": cpu, "target": target, "verdict": verdict}
    return out


def _fmt(x: float) -> str:
    return f"{x:,.0f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bars", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--start-price",
        type=float,
        default=100.0,
        help="first open of the random walk (higher = larger notionals, a stricter cents check)",
    )
    p.add_argument("--no-peers", action="store_true", help="bastion only")
    p.add_argument(
        "--peer-bars", type=int, default=None, help="bars for the peers (default: --bars)"
    )
    p.add_argument("--peers", default=",".join(PEER_ORDER), help="comma-separated subset")
    p.add_argument("--bastion-runs", type=int, default=3, help="fresh-process runs, median kept")
    p.add_argument(
        "--bastion-config",
        type=Path,
        default=None,
        help="bastion TOML config (default: BotConfig(), every risk rule on with defaults)",
    )
    p.add_argument("--json", type=Path, default=None, help="also write all results here")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--worker-out", type=Path, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        if args.worker == "bastion":
            res = _worker_bastion(args.bars, args.seed, args.start_price, args.bastion_config)
        else:
            res = _worker_peer(args.worker, args.bars, args.seed, args.start_price)
        args.worker_out.write_text(json.dumps(res), encoding="utf-8")
        return 0

    peer_bars = args.peer_bars or args.bars
    peers = [] if args.no_peers else [x.strip() for x in args.peers.split(",") if x.strip()]
    m = machine()
    print(
        f"machine: {m['nproc']} CPU(s), {m['cpu']}, Python {m['python']}, {m['date']},"
        f" load average {m['loadavg']}; code {m['code']}"
    )
    print(
        f"workload: {args.bars:,} random-walk bars (seed {args.seed},"
        f" start price {args.start_price:g}), SMA({FAST})/SMA({SLOW})"
        f" cross, {QTY} units, next-open fills, fee {FEE:.1%}, cash {CASH:,.0f}"
    )
    results: dict[str, Any] = {"machine": m, "args": {k: str(v) for k, v in vars(args).items()}}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        runs = []
        for k in range(max(1, args.bastion_runs)):
            r = _spawn(
                "bastion",
                args.bars,
                args.seed,
                args.start_price,
                work / f"bastion{k}.json",
                args.bastion_config,
            )
            runs.append(r)
            print(
                f"  bastion run {k + 1}: {_fmt(r['bars_per_s'])} bars/s end to end"
                f" ({_fmt(r['engine_bars_per_s'])} engine-reported,"
                f" {_fmt(r['bars'] / r['cpu_s'])} per CPU-second), {r['elapsed_s']:.2f} s,"
                f" peak RSS {r['peak_rss_mb']:.0f} MB",
                flush=True,
            )
        ordered = sorted(runs, key=lambda r: r["bars_per_s"])
        bastion = ordered[len(ordered) // 2]
        if len({(r["closed_trades"], r["final_equity_exact"]) for r in runs}) != 1:
            print("WARNING: bastion runs disagree with each other", file=sys.stderr)
        results["bastion_runs"] = [{k: v for k, v in r.items() if k != "trades"} for r in runs]
        ref_for_peers = bastion
        if peers and peer_bars != args.bars:
            ref_for_peers = _spawn(
                "bastion",
                peer_bars,
                args.seed,
                args.start_price,
                work / "bastion_peer.json",
                args.bastion_config,
            )
            results["bastion_at_peer_bars"] = {
                k: v for k, v in ref_for_peers.items() if k != "trades"
            }
        peer_results = []
        for name in peers:
            print(f"  running {name} on {peer_bars:,} bars ...", flush=True)
            r = _spawn(
                name,
                peer_bars,
                args.seed,
                args.start_price,
                work / f"peer-{name.replace(' ', '_')}.json",
            )
            r["agreement"] = compare(ref_for_peers, r)
            peer_results.append(r)

    bps = statistics.median(r["bars_per_s"] for r in runs)
    eng_bps = statistics.median(r["engine_bars_per_s"] for r in runs)
    cpu_bps = statistics.median(r["bars"] / r["cpu_s"] for r in runs)
    best_bps = max(r["bars_per_s"] for r in runs)
    peak = max(r["peak_rss_mb"] for r in runs)
    print()
    print(f"bastion ({args.bars:,} bars, everything on, SQLite journal on disk)")
    print(
        f"  throughput  {_fmt(bps)} bars/s end to end (median of {len(runs)};"
        f" best {_fmt(best_bps)}),"
        f" {_fmt(eng_bps)} bars/s engine-reported (bar loop only),"
        f" {_fmt(cpu_bps)} bars per CPU-second"
    )
    print(f"  peak RSS    {peak:.0f} MB (bars alone: {bastion['rss_before_run_mb']:.0f} MB)")
    print(
        f"  result      {bastion['closed_trades']:,} closed trades, final equity"
        f" {_cents(bastion['final_equity_exact'])} (exact {bastion['final_equity_exact']}),"
        f" open {bastion['open_qty']:g}"
    )
    if bastion["halt_state"] not in (None, "ACTIVE"):
        print(
            f"  NOTE        bastion's risk latch ended {bastion['halt_state']}: its risk rules"
            " stopped trading, so peers (which have none) cannot agree past that point"
        )
    print(
        f"  journal     {bastion['journal_events']:,} events,"
        f" {bastion['journal_bytes'] / 2**20:.1f} MB;"
        f" risk {bastion['risk_decisions']}, halt state {bastion['halt_state']}"
    )
    bps_ok = bps >= TARGET_BARS_PER_S
    rss_ok = peak < TARGET_RSS_MB
    print(
        f"  target      >= {_fmt(TARGET_BARS_PER_S)} bars/s: {'PASS' if bps_ok else 'MISS'};"
        f" peak RSS < {TARGET_RSS_MB:.0f} MB: {'PASS' if rss_ok else 'MISS'}"
    )
    results["bastion"] = {
        "bars_per_s_median": bps,
        "bars_per_s_best": best_bps,
        "engine_bars_per_s_median": eng_bps,
        "bars_per_cpu_s_median": cpu_bps,
        "peak_rss_mb_max": peak,
        "target_bars_per_s": "PASS" if bps_ok else "MISS",
        "target_rss": "PASS" if rss_ok else "MISS",
    }

    failed = False
    if peer_results:
        ref_bps = ref_for_peers["bars_per_s"] if peer_bars != args.bars else bps
        ref_cpu = (
            ref_for_peers["bars"] / ref_for_peers["cpu_s"] if peer_bars != args.bars else cpu_bps
        )
        print()
        print(
            f"peers ({peer_bars:,} bars; bastion there: {ref_for_peers['closed_trades']:,} trades,"
            f" equity {_cents(ref_for_peers['final_equity_exact'])})"
        )
        header = (
            f"  {'engine':<16}{'version':<12}{'bars/s':>11}{'bastion/peer':>13}"
            f"{'bars/CPU-s':>12}{'bastion/peer':>13}"
            f"{'RSS MB':>7}{'trades':>8}{'equity':>12}  agreement"
        )
        print(header)
        for r in peer_results:
            a = r["agreement"]
            verdict = f"AGREE (equity diff {a['equity_diff']:+.1e})" if a["agree"] else "DISAGREE"
            detail = []
            if not a["trips_ok"]:
                detail.append(f"trades {r['closed_trades']} vs {ref_for_peers['closed_trades']}")
            if not a["equity_ok"]:
                detail.append(f"equity off by {a['equity_diff']:+.6f}")
            if a["trade_mismatches"]:
                detail.append(f"{a['trade_mismatches']} trade(s) differ")
            if not a["open_qty_ok"]:
                detail.append(f"open position {r['open_qty']:g} vs {ref_for_peers['open_qty']:g}")
            ref_only = r["engine"] in REFERENCE_ONLY
            print(
                f"  {r['engine']:<16}{r['version']:<12}{_fmt(r['bars_per_s']):>11}"
                f"{ref_bps / r['bars_per_s']:>12.2f}x"
                f"{_fmt(r['bars'] / r['cpu_s']):>12}{ref_cpu * r['cpu_s'] / r['bars']:>12.2f}x"
                f"{r['peak_rss_mb']:>7.0f}"
                f"{r['closed_trades']:>8,}{a['peer_equity']:>12}  {verdict}"
                + (f" ({'; '.join(detail)})" if detail else "")
                + (" [reference, not a peer]" if ref_only else "")
            )
            for mm in a["first_mismatches"]:
                print(
                    f"      trade #{mm['index']}: bastion {mm['bastion']}"
                    f" vs {r['engine']} {mm['peer']}"
                )
            if not a["agree"] and not ref_only:
                failed = True
        results["peers"] = [{k: v for k, v in r.items() if k != "trades"} for r in peer_results]
        results["ratios"] = _ratios(peer_results, ref_bps, ref_cpu)

    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    if failed:
        print("\nFAIL: a peer disagrees with bastion (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Trades -> bar builder -> data gate, on one core: trades per second.

The recorded Binance BTC/USDT trades in ``../shared/data/ticks`` (about
20,000, with their real ids, times and sizes) are repeated, shifted in time
and id, to ``--trades`` trades; each one goes through ``BarBuilder.on_trade``
(dedupe, reorder window, bar folding) and every closed 1-second bar through
``DataGate.on_bar`` with the reference strategy's indicators (SMA 20 and 50)
and the live gate's ``keep_prior`` on. A synthetic seeded stream stands in when
the recorded ticks are absent. A second figure adds the recorder's hot-path
append for every trade (``Recorder.trade``; its writer thread is not started).

    .venv/bin/python bench/data_path.py [--trades 2000000] [--interval-ms 1000]
"""

from __future__ import annotations

import argparse
import gzip
import random
import tempfile
import time
from pathlib import Path

import orjson

from bastion.data.bar_builder import BarBuilder
from bastion.data.gate import DataGate
from bastion.data.paths import shared_data_dir
from bastion.data.recorder import Recorder
from bastion.model.indicators import SMA

Trade = tuple[str, int, float, float]
SYM = "BTC/USDT"


def recorded() -> list[Trade]:
    root = shared_data_dir()
    files = sorted((root / "ticks").glob("binance_spot_btcusdt_*.jsonl.gz")) if root else []
    out: list[Trade] = []
    for path in files:
        with gzip.open(path, "rb") as fh:
            for line in fh:
                msg = line.partition(b" ")[2]
                if b"@trade" in msg[:40]:
                    d = orjson.loads(msg)["data"]
                    out.append((str(d["t"]), int(d["T"]), float(d["p"]), float(d["q"])))
    if out:
        return out
    rng = random.Random(42)
    ts, px = 1_723_161_600_000, 60_000.0
    for i in range(20_000):
        ts += rng.randint(0, 60)
        px *= 1 + rng.gauss(0, 1e-4)
        out.append((str(i + 1), ts, px, rng.random()))
    return out


def stream(base: list[Trade], n: int) -> list[Trade]:
    span = base[-1][1] - base[0][1] + 1_000
    ids = int(base[-1][0]) - int(base[0][0]) + 1
    out: list[Trade] = []
    k = 0
    while len(out) < n:
        for tid, ts, p, q in base:
            out.append((str(int(tid) + k * ids), ts + k * span, p, q))
        k += 1
    return out[:n]


def run(trades: list[Trade], interval_ms: int, recorder: Recorder | None) -> float:
    sink = lambda *a: None  # noqa: E731
    gate = DataGate({SYM: interval_ms}, max_age_ms=10**12, sink=sink, keep_prior=True)
    gate.view[SYM].add_indicators([SMA(20), SMA(50)])
    builder = BarBuilder(SYM, interval_ms, sink)
    on_trade, on_bar = builder.on_trade, gate.on_bar
    t0 = time.perf_counter()
    for tid, ts, p, q in trades:
        if recorder is not None:
            recorder.trade(SYM, tid, ts, ts, p, q, None)
        for b in on_trade(tid, ts, p, q):
            on_bar(SYM, b.ts, b.open, b.high, b.low, b.close, b.volume)
    return len(trades) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trades", type=int, default=2_000_000)
    ap.add_argument("--interval-ms", type=int, default=1_000)
    args = ap.parse_args()
    base = recorded()
    trades = stream(base, args.trades)
    best = max(run(trades, args.interval_ms, None) for _ in range(3))
    verdict = "PASS" if best >= 300_000 else "MISS"
    print(f"{len(trades):,} trades ({len(base):,} recorded, repeated), {args.interval_ms} ms bars")
    print(f"  builder + gate:            {best:12,.0f} trades/s   target >= 300,000: {verdict}")
    with tempfile.TemporaryDirectory() as tmp:
        rec = max(run(trades, args.interval_ms, Recorder(Path(tmp))) for _ in range(3))
    print(
        f"  + recorder append/trade:   {rec:12,.0f} trades/s"
        f"   ({1e6 / rec - 1e6 / best:.2f} us/trade)"
    )


if __name__ == "__main__":
    main()

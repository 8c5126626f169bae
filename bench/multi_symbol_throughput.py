"""Multi-symbol backtest throughput: the five-coin basket in ../shared/data
with two strategies, against one symbol with the same two strategies, in the
same process, back to back.

    .venv/bin/python bench/multi_symbol_throughput.py            # 3 runs each, median
    .venv/bin/python bench/multi_symbol_throughput.py --runs 1

Workload: binance_{BTC,ETH,BNB,SOL,XRP}_USDT_1m_2026-03-23_2026-04-22 (about
43,200 one-minute bars each), ``sma_cross`` (20/50) and ``bollinger`` (20, 2)
each trading every symbol, small sizes, default risk config (every rule on,
correlation included), journal to a temporary SQLite file. The single-symbol
run is the same two strategies on BTC/USDT alone.

The figure is symbol-bars per second: bars of all symbols divided by the wall
time of the whole ``run_backtest`` call. Target: the basket's figure is at
least 70% of the single symbol's (a second symbol must not cost more than a
bar of the first); reported as PASS/MISS, exit status 1 on a MISS.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_RATIO = 0.70
BASKET = ("BTC", "ETH", "BNB", "SOL", "XRP")
FILE = "binance_{}_USDT_1m_2026-03-23_2026-04-22.parquet"
QTY = {"BTC": "0.001", "ETH": "0.02", "BNB": "0.1", "SOL": "0.5", "XRP": "50"}


def _one(coins: tuple[str, ...], data: Path) -> dict[str, Any]:
    from bastion.config import BotConfig
    from bastion.data.loaders import load_bars
    from bastion.engine.backtest import run_backtest
    from bastion.strategy import build_strategy

    series = [load_bars(data / FILE.format(c)) for c in coins]
    symbols = [s.symbol for s in series]
    qty = QTY[coins[0]]  # one size for every symbol: risk sizes down what is too big
    strategies = [
        build_strategy("sma_cross", symbols, {"fast": 20, "slow": 50, "qty": qty}),
        build_strategy("bollinger", symbols, {"period": 20, "k": 2.0, "qty": qty}, "boll"),
    ]
    with tempfile.TemporaryDirectory(prefix="bastion-bench-") as tmp:
        started = time.perf_counter()
        result = run_backtest(
            series, strategies, BotConfig(), journal_path=Path(tmp) / "journal.sqlite"
        )
        elapsed = time.perf_counter() - started
    bars = sum(len(s) for s in series)
    return {
        "symbols": symbols,
        "symbol_bars": bars,
        "timestamps": len(result.curve),  # not len(result.equity): that reads the curve whole
        "elapsed_s": round(elapsed, 3),
        "symbol_bars_per_s": round(bars / elapsed),
        "fills": result.summary["fills"],
        "halt_state": result.summary["halt_state"],
    }


def main() -> int:
    from bastion.data.paths import shared_data_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    root = shared_data_dir()
    if root is None:
        print("../shared/data is not on this machine: nothing to measure", file=sys.stderr)
        return 2
    data = root / "ohlcv"
    single, basket = [], []
    for _ in range(args.runs):  # interleaved, so machine load hits both alike
        single.append(_one(BASKET[:1], data))
        basket.append(_one(BASKET, data))
    one = statistics.median(r["symbol_bars_per_s"] for r in single)
    many = statistics.median(r["symbol_bars_per_s"] for r in basket)
    ratio = many / one
    verdict = "PASS" if ratio >= TARGET_RATIO else "MISS"
    report = {
        "single_symbol_bars_per_s": one,
        "basket_symbol_bars_per_s": many,
        "ratio": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "verdict": verdict,
        "single": single[-1],
        "basket": basket[-1],
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"single symbol (BTC/USDT, 2 strategies): {one:>10,.0f} symbol-bars/s")
        print(f"five-coin basket (2 strategies):        {many:>10,.0f} symbol-bars/s")
        print(f"ratio {ratio:.2f} (target >= {TARGET_RATIO:.2f}): {verdict}")
        print(f"  basket: {basket[-1]['fills']:,} fills, latch {basket[-1]['halt_state']}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())

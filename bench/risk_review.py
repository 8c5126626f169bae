"""Risk review latency: one intent through every rule, for an account with 10 symbols.

    .venv/bin/python bench/risk_review.py
    .venv/bin/python bench/risk_review.py --symbols 10 --rounds 30 --batch 2000

Workload: 10 symbols with an hour and a half of 1-minute bars already seen by
the gate (volume windows full, correlation clusters computed), an account
holding 5 of them with 3 working limit orders, all default rules on
(halt, blocked, fresh data, quote, price band, inventory, order rate, order
size, volume, position, gross, net, correlation cluster, precision).

Figures (median µs per intent over ``--rounds`` batches of ``--batch``, wall
time, and beside it the thread's CPU time, which the other processes on a
shared machine disturb less):
- ``review``: ``RiskGate.review([request], ctx)`` on a context built beforehand;
  the request passes every rule (the longest path). Target < 10 µs (issue 16).
- ``review_resize``: the same with an order the position limit shrinks.
- ``review+context``: building the ``RiskContext`` from the account and view
  (what the engine does once per strategy per cycle) plus the review.
- ``watch``: ``RiskGate.watch`` on an unchanged account (runs every cycle).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from types import MappingProxyType

import numpy as np

from bastion.model import (
    AccountSnapshot,
    Balance,
    Instrument,
    OrderReport,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    StrategyRef,
    TimeInForce,
)
from bastion.model.view import MarketView, SymbolView
from bastion.risk import RiskContext, RiskGate, RiskLimits

T0 = 1_717_200_000_000
MINUTE = 60_000
REF = StrategyRef(id="bench", version="1")
TARGET_US = 10  # issue 16: a review under 10 µs per intent


def _setup(n: int) -> tuple[RiskGate, MarketView, AccountSnapshot, dict[str, Instrument], int]:
    symbols = [f"S{i:02d}/USDT" for i in range(n)]
    rng = np.random.default_rng(0)
    views = {s: SymbolView(s, MINUTE) for s in symbols}
    view = MarketView(views)
    gate = RiskGate.from_limits(RiskLimits())
    common = rng.normal(0, 0.001, 90)
    now = T0
    prices = {s: 100.0 * (k + 1) for k, s in enumerate(symbols)}
    for i in range(90):  # 90 bars: windows full, clusters computed
        now = T0 + (i + 1) * MINUTE
        for k, s in enumerate(symbols):
            sv = views[s]
            prices[s] *= float(np.exp(common[i] + rng.normal(0, 0.0003)))
            sv.ts, sv.data_ts = now - MINUTE, now
            sv.open = sv.high = sv.low = sv.close = prices[s]
            sv.volume = 1_000.0 + k
            sv.bars += 1
            sv.stale = False
        view.now = now
        account = _account(symbols, prices)
        gate.watch(account, view, now)
    instruments = {
        s: Instrument.spot(s, lot_size=Decimal("0.001"), tick_size=Decimal("0.01")) for s in symbols
    }
    return gate, view, _account(symbols, prices), instruments, now


def _account(symbols: list[str], prices: dict[str, float]) -> AccountSnapshot:
    held = symbols[:5]
    positions = {s: Position(symbol=s, qty=Decimal("10"), avg_price=Decimal("100")) for s in held}
    orders = tuple(
        OrderReport(
            client_id=f"w{k}",
            venue_order_id=f"V{k}",
            symbol=s,
            side=Side.BUY,
            type=OrderType.LIMIT,
            qty=Decimal("1"),
            price=Decimal(str(round(prices[s] * 0.99, 2))),
            tif=TimeInForce.GTC,
            status=OrderStatus.OPEN,
        )
        for k, s in enumerate(symbols[5:8])
    )
    return AccountSnapshot(
        ts=T0,
        quote_asset="USDT",
        balances=MappingProxyType({"USDT": Balance(asset="USDT", free=Decimal("1000000"))}),
        positions=MappingProxyType(positions),
        open_orders=orders,
    )


def _median_us(
    fn: Callable[[int], None],
    rounds: int,
    batch: int,
    setup: Callable[[int], None] | None = None,
) -> tuple[float, float, float]:
    """(median, best, median CPU) µs per call over ``rounds`` batches; ``setup(r)``
    runs untimed before batch ``r``."""
    per: list[float] = []
    cpu: list[float] = []
    for r in range(rounds):
        if setup is not None:
            setup(r)
        start, cpu_start = time.perf_counter_ns(), time.thread_time_ns()
        for i in range(batch):
            fn(i)
        cpu.append((time.thread_time_ns() - cpu_start) / batch / 1000)
        per.append((time.perf_counter_ns() - start) / batch / 1000)
    return statistics.median(per), min(per), statistics.median(cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--symbols", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--batch", type=int, default=2000)
    args = ap.parse_args()
    gate, view, account, instruments, now = _setup(args.symbols)
    sym = next(iter(view))
    small = OrderRequest(client_id="b", strategy=REF, symbol=sym, side=Side.BUY, qty=Decimal("1"))
    large = OrderRequest(
        client_id="b", strategy=REF, symbol=sym, side=Side.BUY, qty=Decimal("9999")
    )

    def ctx_at(i: int) -> RiskContext:
        # Each review a minute apart so the rate limit never refuses: the full path.
        return RiskContext.build(
            account=account,
            view=view,
            now=now + i * MINUTE,
            instruments=instruments,
            latch=gate.latch,
        )

    contexts: list[RiskContext] = []

    def fresh_contexts(r: int) -> None:
        gate.rate.__init__()  # type: ignore[misc]
        contexts[:] = [ctx_at(r * args.batch + i) for i in range(args.batch)]

    def prepared(req: OrderRequest) -> Callable[[int], None]:
        def run(i: int) -> None:
            gate.review([req], contexts[i])

        return run

    def with_context(i: int) -> None:
        gate.review([small], ctx_at(i))

    def no_rate(r: int) -> None:
        gate.rate.__init__()  # type: ignore[misc]

    verdicts = {d.verdict.value for d in gate.review([small], ctx_at(-1))}
    resized = {str(d.reason) for d in gate.review([large], ctx_at(-2))}
    results: dict[str, tuple[float, float, float]] = {}
    for name, req in (("review", small), ("review_resize", large)):
        results[name] = _median_us(prepared(req), args.rounds, args.batch, fresh_contexts)
    results["review+context"] = _median_us(with_context, args.rounds, args.batch, no_rate)
    results["watch"] = _median_us(lambda i: gate.watch(account, view, now), args.rounds, args.batch)
    clusters = gate.tape.clusters(threshold=0.7, min_samples=60, recompute_every=15)
    print(
        json.dumps(
            {
                "symbols": args.symbols,
                "rules": len(gate.rules),
                "small_order_verdicts": sorted(verdicts),
                "large_order_reasons": sorted(resized),
                "cluster_size": max((len(c) for c in clusters.values()), default=0),
                "median_us_per_intent": {k: round(v[0], 2) for k, v in results.items()},
                "best_batch_us_per_intent": {k: round(v[1], 2) for k, v in results.items()},
                "cpu_median_us_per_intent": {k: round(v[2], 2) for k, v in results.items()},
                "load": [round(x, 2) for x in os.getloadavg()],
                "target_us": TARGET_US,
                "pass": results["review"][0] < TARGET_US,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

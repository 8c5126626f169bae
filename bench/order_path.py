"""Order path latency: approved request -> request handed to the venue.

Measures bastion's own share: client id registration, the write-ahead row in
the SQLite order store (WAL), the journal append, the check of the kill flag
and the halt latch made immediately before every send (``SendCheck``: a stat
of the flag file, SQLite's ``data_version`` of the latch file) and the
lifecycle move, up to the moment the venue's ``submit`` is entered. The venue here answers at once,
so nothing of an exchange's latency is counted. Each row also prints the
path's CPU time on this thread (``time.thread_time_ns``): bastion's own work,
without the waits on the disk and the scheduler.

    .venv/bin/python bench/order_path.py [--orders 5000]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bastion.engine.latch import open_latch
from bastion.engine.sendcheck import SendCheck
from bastion.execution import OrderManager, client_order_id
from bastion.model import (
    OrderReport,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    StrategyRef,
    TimeInForce,
)
from bastion.observe.journal import Journal
from bastion.state.orders import OrderStore

REF = StrategyRef(id="bench", version="0")


class InstantVenue:
    """Accepts everything at once and notes when each request arrived."""

    def __init__(self) -> None:
        self.arrived: list[int] = []
        self.arrived_cpu: list[int] = []

    def submit(self, request: OrderRequest) -> OrderReport:
        self.arrived.append(time.perf_counter_ns())
        self.arrived_cpu.append(time.thread_time_ns())
        return OrderReport(
            client_id=request.client_id,
            venue_order_id="v",
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            qty=request.qty,
            price=request.price,
            tif=request.tif,
            status=OrderStatus.OPEN,
        )


def run(orders: int, durable: bool, folder: Path) -> tuple[list[float], list[float]]:
    store = OrderStore(folder / f"state-{durable}.sqlite", durable=durable)
    journal = Journal(
        folder / f"journal-{durable}.sqlite", flush_every=10**9
    )  # flushed per cycle, not per order
    venue = InstantVenue()
    data = folder / f"data-{durable}"
    latch, state = open_latch(data)
    guard = SendCheck(latch, state, data, on_flag=lambda _now: True)
    manager = OrderManager(venue, journal, store, guard=guard)  # type: ignore[arg-type]
    started: list[int] = []
    started_cpu: list[int] = []
    for i in range(orders):
        req = OrderRequest(
            client_id=client_order_id("bench", i, 0),
            strategy=REF,
            symbol="BTC/USDT",
            side=Side.BUY if i % 2 else Side.SELL,
            qty=Decimal("0.01"),
            type=OrderType.LIMIT,
            price=Decimal("50000.00"),
            tif=TimeInForce.GTC,
            cycle=i,
        )
        started_cpu.append(time.thread_time_ns())
        started.append(time.perf_counter_ns())
        manager.submit(req, now=i)
    journal.close()
    store.close()
    state.close()
    wall = [(a - s) / 1000 for s, a in zip(started, venue.arrived, strict=True)]
    cpu = [(a - s) / 1000 for s, a in zip(started_cpu, venue.arrived_cpu, strict=True)]
    return wall, cpu


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--orders", type=int, default=5000)
    args = ap.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {args.orders} orders")
    with tempfile.TemporaryDirectory() as tmp:
        for durable in (False, True):
            us, cpu = run(args.orders, durable, Path(tmp))
            mode = (
                "synchronous=FULL (power-loss safe)"
                if durable
                else "synchronous=NORMAL (crash safe)"
            )
            p50, p99 = statistics.median(us), pct(us, 0.99)
            verdict = "PASS" if p99 < 200 else "MISS"
            print(
                f"WAL {mode:36s} p50 {p50:8.1f} us  p99 {p99:8.1f} us"
                f"  max {max(us):9.1f} us  target p99<200us: {verdict}"
            )
            # The same path in CPU time of this thread: bastion's own work, without
            # the waits on the disk and the scheduler that a shared machine adds.
            print(
                f"    cpu time of the path{'':19s} p50 {statistics.median(cpu):8.1f} us"
                f"  p99 {pct(cpu, 0.99):8.1f} us"
            )


if __name__ == "__main__":
    main()

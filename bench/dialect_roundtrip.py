"""Order round trip through the real ccxt client, per emulated dialect.

One round trip: ``create_order`` (a small market buy, which fills and rests
nothing, so no open-order limit is reached) from the call to the parsed
reply: ccxt's signing and parsing, loopback HTTP, the emulator's auth,
order desk and matching. Measured with one order in flight and with sixteen
(``asyncio.gather`` under a semaphore). The emulator runs on the same event
loop as the client (one process, as in the test suite); its rate limits are
lifted so the figure is the path's, not the exchange's quota (real BTC
Markets allows 30 placements per 10 s).

    .venv/bin/python bench/dialect_roundtrip.py [--orders 400]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async

from bastion.emulator import (
    CCXT_OPTIONS,
    TEST_API_KEY,
    TEST_API_SECRET,
    Emulator,
    EmulatorConfig,
    point_ccxt,
)
from bastion.emulator.btcmarkets import BTCM_API_KEY, BTCM_API_SECRET
from bastion.emulator.market import QuoteEvent
from bastion.emulator.server import DEFAULT_INSTRUMENTS
from bastion.model import Instrument

BTC_AUD = Instrument.spot(
    "BTC/AUD", tick_size=Decimal("0.01"), lot_size=Decimal("0.00000001"),
    min_qty=Decimal("0.00001"), min_notional=Decimal("5"),
)  # fmt: skip
DIALECTS: dict[str, tuple[str, str, str, str, dict[str, Any]]] = {
    "binance": ("BTC/USDT", "BTCUSDT", TEST_API_KEY, TEST_API_SECRET, {"newClientOrderId": ""}),
    "btcmarkets": ("BTC/AUD", "BTCAUD", BTCM_API_KEY, BTCM_API_SECRET, {"clientOrderId": ""}),
}


def client(name: str, emu: Emulator) -> Any:
    _, _, key, secret, _ = DIALECTS[name]
    options = CCXT_OPTIONS if name == "binance" else {"maxRetriesOnFailure": 0}
    cls = getattr(ccxt_async, name)
    config = {"apiKey": key, "secret": secret, "enableRateLimit": False, "options": options}
    return point_ccxt(cls(config), emu.url)


async def run(name: str, orders: int, in_flight: int) -> tuple[float, float, float]:
    """Orders per second, median and p99 round trip (ms)."""
    symbol, ex_symbol, _, _, id_param = DIALECTS[name]
    config = EmulatorConfig(
        source="none", admin_port=None, instruments=(*DEFAULT_INSTRUMENTS, BTC_AUD),
        balances={"USDT": Decimal(10**9), "AUD": Decimal(10**9), "BTC": Decimal(1)},
        weight_limit=10**9, btcm_limits=(10**9, 10**9),
    )  # fmt: skip
    emu = Emulator(config)
    await emu.start()
    emu.apply(
        QuoteEvent(symbol=ex_symbol, ts=emu.server_ms(), bid=Decimal(60000), bid_qty=Decimal(10**6),
                   ask=Decimal("60000.5"), ask_qty=Decimal(10**6))
    )  # fmt: skip
    ex = client(name, emu)
    await ex.load_markets()
    gate = asyncio.Semaphore(in_flight)
    took: list[float] = []
    (param,) = id_param

    async def one(n: int) -> None:
        async with gate:
            t0 = time.perf_counter()
            await ex.create_order(
                symbol, "market", "buy", 0.0001, None, {param: f"b{in_flight}-{n}"}
            )
            took.append(time.perf_counter() - t0)

    try:
        await asyncio.gather(*(one(n) for n in range(20)))  # warm-up: connections, caches
        took.clear()
        start = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(20, 20 + orders)))
        wall = time.perf_counter() - start
    finally:
        await ex.close()
        await emu.stop()
    ms = sorted(t * 1000 for t in took)
    return orders / wall, statistics.median(ms), ms[int(len(ms) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=400)
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {os.cpu_count()} cpus, {platform.machine()}")
    print(f"{'dialect':<11} {'in flight':>9} {'orders/s':>9} {'median ms':>10} {'p99 ms':>8}")
    for name in DIALECTS:
        for in_flight in (1, 16):
            rate, median, p99 = asyncio.run(run(name, args.orders, in_flight))
            print(f"{name:<11} {in_flight:>9} {rate:>9.0f} {median:>10.2f} {p99:>8.2f}")


if __name__ == "__main__":
    main()

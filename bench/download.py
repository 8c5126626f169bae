"""``bastion download`` against the emulator: bars per second with ccxt's rate
limiter on, and the share of the time spent waiting on it.

The emulator (its own process, loopback) serves a real three-month 1-minute
file from ``../shared/data/ohlcv`` as kline history (a synthetic one when the
data is absent); the real ``ccxt.async_support.binance`` client, rate limiter
on (Binance's 50 ms between requests), pages through it 1,000 bars at a time
into a fresh store. The emulator's weight limit is Binance's (6,000 a minute).

    .venv/bin/python bench/download.py [--limit 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import tempfile
from pathlib import Path

from bastion.data.download import download
from bastion.data.paths import shared_data_dir
from bastion.data.store import SeriesKey
from bastion.venues.ccxt.client import make_exchange

FILE = "binance_BTC_USDT_1m_2025-05-20_2025-08-18.parquet"
KEY = SeriesKey("binance", "BTC/USDT", "1m")


def serve(path: str, port_out: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    from bastion.emulator import Emulator, EmulatorConfig

    async def main() -> None:
        cfg = EmulatorConfig(source="none", history_paths=(Path(path),), admin_port=None)
        emu = Emulator(cfg)
        await emu.start()
        port_out.put(emu.url)
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await emu.stop()

    asyncio.run(main())


def history_file(tmp: Path) -> Path:
    root = shared_data_dir()
    if root is not None and (root / "ohlcv" / FILE).is_file():
        return root / "ohlcv" / FILE
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bastion.data.synthetic import random_walk_bars

    s = random_walk_bars(130_000, seed=42, symbol="BTC/USDT", start_price=30_000)
    path = tmp / "BTC_USDT_1m.parquet"
    pq.write_table(pa.table({c: getattr(s, c) for c in ("ts", "open", "high", "low", "close",
                                                        "volume")}), path)  # fmt: skip
    return path


async def run(url: str, root: Path, start: int, end: int, limit: int) -> None:
    ex = make_exchange("binance", base_url=url, rate_limit=True)
    try:
        rep = await download(ex, root, KEY, start, end, now=end + 60_000, limit=limit)
    finally:
        await ex.close()
    print(
        f"{rep.fetched:,} bars in {rep.pages} requests, {rep.seconds:.2f} s: "
        f"{rep.bars_per_s:,.0f} bars/s; waiting on the rate limiter "
        f"{rep.limiter_wait_s:.2f} s ({rep.limiter_share:.0%} of the time)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--limit", type=int, default=1000, help="bars per request")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = history_file(Path(tmp))
        import pyarrow.parquet as pq

        ts = pq.read_table(path, columns=["ts"]).column("ts").to_numpy()
        q: multiprocessing.Queue = multiprocessing.Queue()
        stop = multiprocessing.Event()
        proc = multiprocessing.Process(target=serve, args=(str(path), q, stop), daemon=True)
        proc.start()
        try:
            url = q.get(timeout=60)
            print(f"{path.name}: {len(ts):,} bars served as kline history")
            asyncio.run(run(url, Path(tmp) / "store", int(ts[0]), int(ts[-1]) + 60_000, args.limit))
        finally:
            stop.set()
            proc.join(10)


if __name__ == "__main__":
    main()

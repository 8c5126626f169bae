"""Market sources: recorded Binance streams, Parquet bars and the synthetic walk."""

from __future__ import annotations

import asyncio
import gzip
import heapq
import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from emulator_support import run, session

from bastion.data.paths import shared_data_dir
from bastion.emulator import EmulatorConfig
from bastion.emulator.market import SyntheticSource, TradeEvent
from bastion.emulator.server import DEFAULT_INSTRUMENTS

DATA = shared_data_dir()
TICKS = DATA / "ticks" if DATA is not None else None


def tick_file(name: str) -> Path:
    if TICKS is None or not (TICKS / name).is_file():
        pytest.skip(f"shared tick data {name} not found (set BASTION_DATA_DIR)")
    return TICKS / name


def recorded_trades(path: Path, n: int) -> list[tuple[int, int, str, str]]:
    """(recv ms, trade id, price, qty) of the first ``n`` trades, straight from the file."""
    out = []
    with gzip.open(path, "rb") as fh:
        for line in fh:
            stamp, _, body = line.partition(b" ")
            msg = orjson.loads(body)
            if str(msg.get("stream", "")).endswith("@trade"):
                d = msg["data"]
                out.append((int(stamp) // 1_000_000, d["t"], d["p"], d["q"]))
                if len(out) == n:
                    break
    return out


async def collect(ws: Any, n: int) -> list[Any]:
    got: list[Any] = []
    while len(got) < n:
        msg = await asyncio.wait_for(ws.receive(), 5)
        got.append(msg.json())
    return got


@pytest.mark.realdata
def test_recorded_trades_come_out_of_the_trade_stream_unchanged() -> None:
    path = tick_file("binance_spot_btcusdt_20240808.jsonl.gz")
    expected = recorded_trades(path, 300)

    async def body() -> None:
        config = EmulatorConfig(source="files", source_paths=(path,), speed=0, start_paused=True)
        async with session(config, quoted=False) as (emu, _):
            import aiohttp

            async with (
                aiohttp.ClientSession() as http,
                http.ws_connect(emu.ws_url + "/ws/btcusdt@trade") as ws,
            ):
                emu.resume_market()
                got = await collect(ws, len(expected))

        assert [(m["t"], m["p"], m["q"]) for m in got] == [(t, p, q) for _, t, p, q in expected]
        times = [m["T"] for m in got]
        assert times == sorted(times) and times[0] > 1_700_000_000_000

    run(body)


@pytest.mark.realdata
def test_several_files_are_merged_by_receive_time() -> None:
    btc = tick_file("binance_spot_btcusdt_20240808.jsonl.gz")
    eth = tick_file("binance_spot_ethusdt_20240808.jsonl.gz")
    n = 200
    merged = list(
        itertools.islice(
            heapq.merge(recorded_trades(btc, n), recorded_trades(eth, n), key=lambda r: r[0]), n
        )
    )

    async def body() -> None:
        config = EmulatorConfig(source="files", source_paths=(btc, eth), speed=0, start_paused=True)
        async with session(config, quoted=False) as (emu, _):
            import aiohttp

            url = emu.ws_url + "/stream?streams=btcusdt@trade/ethusdt@trade"
            async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
                emu.resume_market()
                got = await collect(ws, n)

        assert [m["data"]["t"] for m in got] == [t for _, t, _, _ in merged]
        assert {m["stream"] for m in got} == {"btcusdt@trade", "ethusdt@trade"}

    run(body)


@pytest.mark.realdata
def test_replayed_quotes_drive_matching() -> None:
    path = tick_file("binance_spot_btcusdt_20240808.jsonl.gz")

    async def body() -> None:
        config = EmulatorConfig(source="files", source_paths=(path,), speed=0)
        async with session(config, quoted=False) as (emu, ex):
            await asyncio.wait_for(emu.market_done.wait(), 20)
            await ex.load_markets()
            best_ask = (await ex.fetch_ticker("BTC/USDT"))["ask"]

            order = await ex.create_order(
                "BTC/USDT", "market", "buy", 0.01, params={"newClientOrderId": "replay-1"}
            )

            assert order["status"] == "closed" and order["average"] == best_ask
            assert 50_000 < best_ask < 70_000

    run(body)


def test_parquet_bars_replay_as_klines_and_fill_resting_orders(tmp_path: Path) -> None:
    t0 = 1_722_470_400_000
    table = pa.table(
        {
            "ts": np.array([t0, t0 + 60_000, t0 + 120_000], dtype=np.int64),
            "open": [60_000.0, 60_010.0, 59_950.0],
            "high": [60_020.0, 60_015.0, 60_000.0],
            "low": [59_990.0, 59_900.0, 59_940.0],
            "close": [60_010.0, 59_950.0, 59_990.0],
            "volume": [4.0, 8.0, 2.0],
        }
    )
    path = tmp_path / "binance_BTC_USDT_1m_test.parquet"
    pq.write_table(table, path)

    async def body() -> None:
        config = EmulatorConfig(
            source="files", source_paths=(path,), speed=0, start_paused=True,
            rebase_time=False,
        )  # fmt: skip
        async with session(config, quoted=False) as (emu, ex):
            await ex.load_markets()
            await ex.create_order(
                "BTC/USDT", "limit", "buy", 0.1, 59_900, params={"newClientOrderId": "bar-1"}
            )
            emu.resume_market()
            await asyncio.wait_for(emu.market_done.wait(), 5)

            ohlcv = await ex.fetch_ohlcv("BTC/USDT", "1m")
            order = await ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": "bar-1"})

            assert [row[:5] for row in ohlcv] == [
                [t0, 60_000.0, 60_020.0, 59_990.0, 60_010.0],
                [t0 + 60_000, 60_010.0, 60_015.0, 59_900.0, 59_950.0],
                [t0 + 120_000, 59_950.0, 60_000.0, 59_940.0, 59_990.0],
            ]
            assert [row[5] for row in ohlcv] == [4.0, 8.0, 2.0]
            assert order["status"] == "closed" and order["average"] == 59_900.0

    run(body)


def test_synthetic_source_is_a_pure_function_of_its_seed() -> None:
    def first(seed: int) -> list[object]:
        src = SyntheticSource(DEFAULT_INSTRUMENTS, start_ms=0, seed=seed, rate=10)
        return [t.event for t in itertools.islice(iter(src), 300)]

    a, b, c = first(1), first(1), first(2)

    assert a == b and a != c
    trades = [e for e in a if isinstance(e, TradeEvent)]
    assert trades and all(e.price > Decimal(0) and e.qty > 0 for e in trades)

"""The BTC Markets dialect through the real ``ccxt.btcmarkets`` class,
unmodified but for its URLs: market data, orders by client id, balances, our
trades, BTC Markets' error bodies, its signature check and its rate limit."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import pytest
from emulator_support import run

from bastion.emulator import Emulator, EmulatorConfig, point_ccxt
from bastion.emulator.btcmarkets import BTCM_API_KEY, BTCM_API_SECRET
from bastion.emulator.market import QuoteEvent, TradeEvent
from bastion.model import Instrument

BTC_AUD = Instrument.spot(
    "BTC/AUD", tick_size=Decimal("0.01"), lot_size=Decimal("0.00000001"),
    min_qty=Decimal("0.00001"), min_notional=Decimal("5"),
)  # fmt: skip
CONFIG = EmulatorConfig(
    source="none", instruments=(BTC_AUD,), balances={"AUD": Decimal(100_000), "BTC": Decimal(1)}
)


def market(emu: Emulator, price: str = "100000") -> None:
    p = Decimal(price)
    ts = emu.server_ms()
    emu.apply(
        QuoteEvent(
            symbol="BTCAUD",
            ts=ts,
            bid=p,
            bid_qty=Decimal(2),
            ask=p + Decimal("0.5"),
            ask_qty=Decimal(2),
        )
    )
    emu.apply(TradeEvent(symbol="BTCAUD", ts=ts, price=p, qty=Decimal("0.05"), buyer_maker=True))


@contextlib.asynccontextmanager
async def btcm(**over: Any) -> AsyncIterator[tuple[Emulator, Any]]:
    emu = Emulator(CONFIG)
    await emu.start()
    market(emu)
    ex = point_ccxt(
        ccxt_async.btcmarkets(
            {"apiKey": BTCM_API_KEY, "secret": BTCM_API_SECRET, "enableRateLimit": False,
             "options": {"maxRetriesOnFailure": 0}, **over}
        ),
        emu.url,
    )  # fmt: skip
    try:
        yield emu, ex
    finally:
        await ex.close()
        await emu.stop()


def test_market_data() -> None:
    async def body() -> None:
        async with btcm() as (_, ex):
            markets = await ex.load_markets()
            ticker = await ex.fetch_ticker("BTC/AUD")
            book = await ex.fetch_order_book("BTC/AUD")
            trades = await ex.fetch_trades("BTC/AUD")
            candles = await ex.fetch_ohlcv("BTC/AUD", "1m")

            assert markets["BTC/AUD"]["precision"] == {"amount": 1e-08, "price": 0.01}
            assert (ticker["bid"], ticker["ask"], ticker["last"]) == (100000.0, 100000.5, 100000.0)
            assert book["bids"][0] == [100000.0, 2.0] and book["asks"][0] == [100000.5, 2.0]
            assert trades[-1]["price"] == 100000.0 and trades[-1]["side"] == "sell"
            assert candles[-1][4] == 100000.0

    run(body)


def test_orders_by_client_id_fills_and_balances() -> None:
    async def body() -> None:
        async with btcm() as (emu, ex):
            await ex.load_markets()

            resting = await ex.create_order(
                "BTC/AUD", "limit", "buy", 0.01, 99_000, {"clientOrderId": "bm-1"}
            )
            listed = await ex.fetch_open_orders("BTC/AUD")
            taken = await ex.create_order(
                "BTC/AUD", "market", "buy", 0.01, None, {"clientOrderId": "bm-2"}
            )
            cancelled = await ex.cancel_order(resting["id"])
            after = await ex.fetch_order(resting["id"])
            mine = await ex.fetch_my_trades("BTC/AUD")
            balance = await ex.fetch_balance()

            assert resting["clientOrderId"] == "bm-1" and resting["status"] == "open"
            assert [o["clientOrderId"] for o in listed] == ["bm-1"]
            assert taken["status"] == "closed" and taken["filled"] == 0.01
            assert cancelled["clientOrderId"] == "bm-1" and after["status"] == "canceled"
            assert mine[0]["order"] == taken["id"] and mine[0]["price"] == 100000.5
            assert mine[0]["takerOrMaker"] == "taker" and mine[0]["info"]["clientOrderId"] == "bm-2"
            assert balance["BTC"]["total"] == pytest.approx(1.01)
            assert [r.client_id for r in emu.exchange.received] == ["bm-1", "bm-2"]

    run(body)


@pytest.mark.parametrize(
    ("call", "error", "code"),
    [
        (
            lambda ex: ex.create_order(
                "BTC/AUD", "limit", "buy", 5, 99_000, {"clientOrderId": "e-1"}
            ),
            ccxt.InsufficientFunds,
            "InsufficientFund",
        ),
        (lambda ex: ex.fetch_order("999"), ccxt.OrderNotFound, "OrderNotFound"),
        (
            lambda ex: ex.create_order(
                "BTC/AUD", "limit", "buy", 0.000001, 99_000, {"clientOrderId": "e-2"}
            ),
            ccxt.InvalidOrder,
            "InvalidAmount",
        ),
    ],
    ids=["no funds", "no such order", "below the minimum"],
)
def test_error_bodies_map_as_on_the_real_exchange(
    call: Any, error: type[Exception], code: str
) -> None:
    async def body() -> None:
        async with btcm() as (_, ex):
            await ex.load_markets()

            with pytest.raises(error) as info:
                await call(ex)

            assert f'"code":"{code}"' in str(info.value)

    run(body)


def test_a_cancel_of_a_final_order_is_refused() -> None:
    async def body() -> None:
        async with btcm() as (_, ex):
            await ex.load_markets()
            placed = await ex.create_order(
                "BTC/AUD", "limit", "buy", 0.01, 99_000, {"clientOrderId": "c-1"}
            )
            await ex.cancel_order(placed["id"])

            with pytest.raises(ccxt.InvalidOrder, match="OrderStatusIsFinal"):
                await ex.cancel_order(placed["id"])

    run(body)


def test_a_bad_signature_and_the_rate_limit_are_refused() -> None:
    async def body() -> None:
        async with btcm(secret="b3RoZXI=") as (_, ex):
            await ex.load_markets()

            with pytest.raises(ccxt.ExchangeError, match="InvalidAuthSignature"):
                await ex.fetch_balance()
            with pytest.raises(ccxt.ExchangeError, match="TooManyRequests"):
                for _ in range(60):
                    await ex.fetch_ticker("BTC/AUD")

    run(body)

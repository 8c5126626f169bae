"""Stop-limit and OCO orders on the emulator, through the real ccxt client:
Binance's trigger rules, its refusals, and an OCO's legs ending each other."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest
from emulator_support import quote, run, session, trade

from bastion.emulator import Emulator

FIXTURES = json.loads(
    (Path(__file__).parent / "fixtures" / "binance_spot_recorded.json").read_text()
)
CONDITIONAL = set(FIXTURES["conditional_fields"]["order"])


def sell_oco(**over: str) -> dict[str, str]:
    return {
        "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.01", "listClientOrderId": "oco-1",
        "aboveType": "LIMIT_MAKER", "abovePrice": "61000", "aboveClientOrderId": "oco-tp",
        "belowType": "STOP_LOSS_LIMIT", "belowStopPrice": "59000", "belowPrice": "58900",
        "belowTimeInForce": "GTC", "belowClientOrderId": "oco-sl", **over,
    }  # fmt: skip


def at(emu: Emulator, price: str) -> None:
    """The market moves to ``price``: the best bid is there and a trade prints there."""
    p = Decimal(price)
    quote(emu, bid=p, ask=p + Decimal("0.01"))
    trade(emu, p)


async def status(ex: Any, client_id: str) -> str:
    order = await ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": client_id})
    return str(order["status"])


def test_stop_loss_limit_waits_then_sells_when_the_price_falls() -> None:
    async def body() -> None:
        async with session() as (emu, ex):
            await ex.load_markets()
            at(emu, "60000")

            placed = await ex.create_order(
                "BTC/USDT", "limit", "sell", 0.01, 58_900,
                {"stopLossPrice": 59_000, "newClientOrderId": "sl-1"},
            )  # fmt: skip
            waiting = await ex.private_get_order({"symbol": "BTCUSDT", "orderId": placed["id"]})
            balance = await ex.fetch_balance()
            at(emu, "59500")
            still = await status(ex, "sl-1")
            at(emu, "58990")

            assert waiting["type"] == "STOP_LOSS_LIMIT" and waiting["stopPrice"] == "59000.00000000"
            assert (waiting["isWorking"], waiting["workingTime"]) == (False, -1)
            assert balance["BTC"]["used"] == 0.01  # Binance holds what a stop would sell
            assert still == "open"
            assert await status(ex, "sl-1") == "closed"
            assert (await ex.fetch_balance())["BTC"]["total"] == pytest.approx(0.99)

    run(body)


def test_a_stop_that_would_trigger_on_arrival_is_refused() -> None:
    async def body() -> None:
        async with session() as (emu, ex):
            await ex.load_markets()
            at(emu, "60000")

            with pytest.raises(ccxt.ExchangeError, match="Order would trigger immediately"):
                await ex.create_order(
                    "BTC/USDT", "limit", "sell", 0.01, 60_000,
                    {"stopLossPrice": 60_100, "newClientOrderId": "sl-2"},
                )  # fmt: skip

            assert emu.exchange.received[-1].outcome == "-2010"
            assert not emu.exchange.open_orders("BTCUSDT")

    run(body)


def test_oco_reply_carries_the_documented_fields() -> None:
    async def body() -> None:
        async with session() as (emu, ex):
            at(emu, "60000")

            reply = await ex.private_post_orderlist_oco(sell_oco(newOrderRespType="RESULT"))

            documented = FIXTURES["documented"]["oco_RESULT"]
            assert set(reply) == set(documented)
            assert [r["clientOrderId"] for r in reply["orders"]] == ["oco-tp", "oco-sl"]
            theirs = {r["type"]: set(r) - CONDITIONAL for r in documented["orderReports"]}
            ours = {r["type"]: set(r) - CONDITIONAL for r in reply["orderReports"]}
            assert ours == theirs
            assert reply["orderReports"][1]["workingTime"] == -1

    run(body)


def test_oco_take_profit_fills_and_the_stop_expires() -> None:
    async def body() -> None:
        async with session() as (emu, ex):
            await ex.load_markets()
            at(emu, "60000")
            await ex.private_post_orderlist_oco(sell_oco())

            at(emu, "61000")

            assert await status(ex, "oco-tp") == "closed"
            assert await status(ex, "oco-sl") == "expired"
            assert await ex.fetch_open_orders("BTC/USDT") == []
            balance = await ex.fetch_balance()
            assert balance["BTC"]["used"] == 0 and balance["BTC"]["total"] == pytest.approx(0.99)
            lists = await ex.private_get_openorderlist()
            assert lists == []

    run(body)


def test_oco_stop_triggers_and_the_take_profit_expires() -> None:
    async def body() -> None:
        async with session() as (emu, ex):
            await ex.load_markets()
            at(emu, "60000")
            await ex.private_post_orderlist_oco(sell_oco())

            at(emu, "58950")

            assert await status(ex, "oco-tp") == "expired"
            assert await status(ex, "oco-sl") == "closed"
            assert (await ex.fetch_balance())["BTC"]["total"] == pytest.approx(0.99)

    run(body)


def test_cancelling_one_leg_cancels_the_list() -> None:
    async def body() -> None:
        async with session() as (emu, ex):
            await ex.load_markets()
            at(emu, "60000")
            await ex.private_post_orderlist_oco(sell_oco())

            await ex.cancel_order(None, "BTC/USDT", {"origClientOrderId": "oco-sl"})

            assert await status(ex, "oco-tp") == "canceled"
            assert await status(ex, "oco-sl") == "canceled"
            assert (await ex.fetch_balance())["BTC"]["used"] == 0

    run(body)


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"abovePrice": "59500"}, "The relationship of the prices for the orders is not correct."),
        (
            {"belowStopPrice": "60500"},
            "The relationship of the prices for the orders is not correct.",
        ),
        ({"belowType": "TAKE_PROFIT_LIMIT"}, "One of the orders must be a stop-loss order"),
        ({"belowTimeInForce": ""}, "Mandatory parameter 'belowTimeInForce'"),
        ({"quantity": "5"}, "Account has insufficient balance"),
    ],
    ids=["limit below last", "stop above last", "no stop-loss leg", "no tif", "no funds"],
)
def test_oco_refusals_leave_nothing_behind(over: dict[str, str], message: str) -> None:
    async def body() -> None:
        async with session() as (emu, ex):
            at(emu, "60000")

            with pytest.raises(ccxt.ExchangeError, match=message):
                await ex.private_post_orderlist_oco(sell_oco(**over))

            assert not emu.exchange.open_orders("BTCUSDT")
            assert emu.exchange.balances()["BTC"].locked == 0

    run(body)

"""Fidelity: the emulator's replies carry the fields the real exchange sends.

Each test compares the field set of one emulator reply, fetched through the
real ccxt client, with a real Binance reply recorded in ccxt's own test
fixtures or an example payload from Binance's API docs, trimmed and stored
in ``fixtures/binance_spot_recorded.json`` (its ``_source`` names where each
came from). A field the exchange sends and we omit fails the test; so does a
field we invent. Fields Binance documents as conditional are allowed either way.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import ccxt
import pytest
from emulator_support import run, session, trade

from bastion.emulator import TEST_API_KEY, TEST_API_SECRET, EmulatorConfig
from bastion.emulator.errors import ApiError
from bastion.emulator.signing import sign, verify

FIXTURES = json.loads(
    (Path(__file__).parent / "fixtures" / "binance_spot_recorded.json").read_text()
)
RECORDED, DOCUMENTED = FIXTURES["recorded"], FIXTURES["documented"]
CONDITIONAL = set(FIXTURES["conditional_fields"]["order"])


def assert_same_fields(ours: dict[str, Any], theirs: dict[str, Any], optional: set[str]) -> None:
    missing = set(theirs) - set(ours) - optional
    extra = set(ours) - set(theirs) - optional
    assert (missing, extra) == (set(), set())


LIMIT = {
    "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
    "quantity": "0.01", "price": "59000",
}  # fmt: skip


def test_order_replies_carry_every_recorded_field() -> None:
    async def body() -> None:
        async with session() as (_, ex):
            placed = await ex.private_post_order({**LIMIT, "newClientOrderId": "fid-1"})
            queried = await ex.private_get_order({"symbol": "BTCUSDT", "orderId": "1"})
            listed = await ex.private_get_openorders({"symbol": "BTCUSDT"})
            canceled = await ex.private_delete_order({"symbol": "BTCUSDT", "orderId": "1"})

            assert_same_fields(placed, RECORDED["createOrder_FULL"], CONDITIONAL)
            assert_same_fields(queried, RECORDED["fetchOrder"], CONDITIONAL)
            assert_same_fields(listed[0], RECORDED["fetchOpenOrders_row"], CONDITIONAL)
            assert_same_fields(canceled, DOCUMENTED["cancelOrder"], CONDITIONAL)
            assert "workingTime" not in canceled  # Binance sends none on a cancel
            assert placed["workingTime"] == placed["transactTime"]
            assert placed["origQuoteOrderQty"] == "0.00000000"

    run(body)


def test_exchange_info_symbol_fields_and_filters() -> None:
    async def body() -> None:
        async with session() as (_, ex):
            info = await ex.public_get_exchangeinfo()

            symbol = info["symbols"][0]
            assert_same_fields(symbol, DOCUMENTED["exchangeInfo_symbol"], set())
            assert (symbol["amendAllowed"], symbol["opoAllowed"]) == (False, False)
            assert symbol["pegInstructionsAllowed"] is False
            filters = {f["filterType"]: f for f in symbol["filters"]}
            assert filters["MAX_NUM_ORDERS"]["maxNumOrders"] == 200
            assert filters["PERCENT_PRICE_BY_SIDE"]["bidMultiplierUp"] == "5"
            assert {"STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"} <= set(symbol["orderTypes"])

    run(body)


@pytest.mark.parametrize(
    ("params", "fixture"), [({}, "miniTicker"), ({"name": "ticker"}, "ticker")]
)
def test_ccxt_pro_watch_ticker_yields(params: dict[str, str], fixture: str) -> None:
    async def body() -> None:
        async with session(pro=True) as (emu, ex):
            await ex.load_markets()
            task = asyncio.create_task(ex.watch_ticker("BTC/USDT", params))
            await asyncio.sleep(0.3)  # the subscription lands

            trade(emu, Decimal("60010"))
            ticker = await asyncio.wait_for(task, 5)

            assert ticker["symbol"] == "BTC/USDT" and ticker["last"] == 60010.0
            assert_same_fields(ticker["info"], DOCUMENTED[fixture], set())

    run(body)


def test_ccxt_pro_watch_tickers_yields_from_the_all_market_stream() -> None:
    async def body() -> None:
        async with session(pro=True) as (emu, ex):
            await ex.load_markets()
            task = asyncio.create_task(ex.watch_tickers())
            await asyncio.sleep(0.3)

            trade(emu, Decimal("60020"))
            tickers = await asyncio.wait_for(task, 5)

            assert tickers["BTC/USDT"]["last"] == 60020.0
            assert "!miniTicker@arr" in {s for c in emu.hub.connections for s in c.streams}

    run(body)


def test_execution_report_fields() -> None:
    async def body() -> None:
        async with session(pro=True) as (_, ex):
            await ex.load_markets()
            task = asyncio.create_task(ex.watch_orders("BTC/USDT"))
            await asyncio.sleep(0.3)

            await ex.create_order(
                "BTC/USDT", "limit", "buy", 0.01, 59_000, {"newClientOrderId": "er-1"}
            )
            orders = await asyncio.wait_for(task, 5)

            optional = set(FIXTURES["conditional_fields"]["executionReport"])
            assert_same_fields(orders[-1]["info"], DOCUMENTED["executionReport"], optional)

    run(body)


async def signed_get(base: str, path: str, params: dict[str, str]) -> tuple[int, Any]:
    query = urlencode(params)
    url = f"{base}{path}?{query}&signature={sign(TEST_API_SECRET, query)}"
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers={"X-MBX-APIKEY": TEST_API_KEY}) as resp,
    ):
        return resp.status, await resp.json()


def test_fractional_recv_window_is_accepted() -> None:
    """ccxt truncates recvWindow to an integer, so this request is signed by hand."""

    async def body() -> None:
        async with session() as (emu, _):
            ts = str(emu.server_ms())
            ok = await signed_get(
                emu.url, "/api/v3/account", {"timestamp": ts, "recvWindow": "6000.346"}
            )
            too_fine = await signed_get(
                emu.url, "/api/v3/account", {"timestamp": ts, "recvWindow": "6000.3461"}
            )

            assert ok[0] == 200 and "balances" in ok[1]
            assert too_fine == (
                400,
                {"code": -1100, "msg": "Illegal characters found in parameter 'recvWindow'."},
            )

    run(body)


def test_timestamp_ahead_uses_binances_words() -> None:
    query = "timestamp=2000"
    params = {"timestamp": "2000", "signature": sign("s", query)}

    with pytest.raises(ApiError) as info:
        verify(query=query + "&signature=" + params["signature"], body="", params=params,
               headers={"X-MBX-APIKEY": "k"}, keys={"k": "s"}, server_ms=1000)  # fmt: skip

    assert (info.value.code, info.value.msg) == (
        -1021,
        "Timestamp for this request was 1000ms ahead of the server's time.",
    )


def test_percent_price_by_side_refuses_a_price_far_from_the_average() -> None:
    async def body() -> None:
        async with session() as (emu, ex):
            await ex.load_markets()
            trade(emu, Decimal("60000"))

            with pytest.raises(ccxt.InvalidOrder, match="PERCENT_PRICE_BY_SIDE"):
                await ex.create_order(
                    "BTC/USDT", "limit", "buy", 0.001, 300_001, {"newClientOrderId": "pp-1"}
                )
            with pytest.raises(ccxt.InvalidOrder, match="PERCENT_PRICE_BY_SIDE"):
                await ex.create_order(
                    "BTC/USDT", "limit", "sell", 0.001, 11_999, {"newClientOrderId": "pp-2"}
                )
            inside = await ex.create_order(
                "BTC/USDT", "limit", "buy", 0.001, 12_001, {"newClientOrderId": "pp-3"}
            )

            assert inside["status"] == "open"
            assert [r.outcome for r in emu.exchange.received] == ["-1013", "-1013", "accepted"]

    run(body)


def test_max_num_orders_counts_open_orders_on_the_symbol() -> None:
    async def body() -> None:
        async with session(EmulatorConfig(source="none", max_num_orders=2)) as (_, ex):
            await ex.load_markets()
            for n in range(2):
                await ex.create_order(
                    "BTC/USDT", "limit", "buy", 0.001, 59_000, {"newClientOrderId": f"mx-{n}"}
                )

            with pytest.raises(ccxt.BadRequest, match="MAX_NUM_ORDERS"):
                await ex.create_order(
                    "BTC/USDT", "limit", "buy", 0.001, 59_000, {"newClientOrderId": "mx-2"}
                )
            await ex.cancel_order("", "BTC/USDT", {"origClientOrderId": "mx-0"})
            again = await ex.create_order(
                "BTC/USDT", "limit", "buy", 0.001, 59_000, {"newClientOrderId": "mx-2"}
            )

            assert again["status"] == "open"
            info = await ex.public_get_exchangeinfo()
            assert {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 2} in info["symbols"][0][
                "filters"
            ]

    run(body)

"""The real ccxt binance class trades against the emulator over REST."""

from __future__ import annotations

from decimal import Decimal

import ccxt
import pytest
from emulator_support import ASK, BID, quote, run, session, trade

from bastion.emulator import EmulatorConfig


def test_load_markets_derives_precision_and_limits_from_filters() -> None:
    async def body() -> None:
        async with session() as (_, ex):
            markets = await ex.load_markets()

            btc = markets["BTC/USDT"]
            assert btc["id"] == "BTCUSDT" and btc["spot"] and btc["active"]
            assert btc["precision"]["price"] == 0.01
            assert btc["precision"]["amount"] == 0.00001
            assert btc["limits"]["cost"]["min"] == 5.0
            assert btc["limits"]["amount"]["min"] == 0.00001

    run(body)


def test_balance_reflects_configured_funds() -> None:
    async def body() -> None:
        async with session() as (_, ex):
            balance = await ex.fetch_balance()

            assert balance["USDT"]["free"] == 100_000.0
            assert balance["BTC"]["total"] == 1.0

    run(body)


def test_market_order_fills_at_the_ask_and_moves_balances() -> None:
    async def body() -> None:
        async with session() as (emu, ex):
            await ex.load_markets()

            order = await ex.create_order(
                "BTC/USDT", "market", "buy", 0.01, params={"newClientOrderId": "mkt-1"}
            )

            assert order["clientOrderId"] == "mkt-1"
            assert order["status"] == "closed"
            assert order["filled"] == 0.01
            assert order["average"] == float(ASK)
            assert order["fee"]["currency"] == "USDT"
            bal = await ex.fetch_balance()
            assert bal["BTC"]["total"] == 1.01
            assert bal["USDT"]["total"] == pytest.approx(100_000 - 600.0001 - 0.6000001)
            trades = await ex.fetch_my_trades("BTC/USDT")
            assert [t["order"] for t in trades] == [order["id"]]
            assert trades[0]["takerOrMaker"] == "taker"
            assert emu.exchange.requests_for("mkt-1")[0].outcome == "accepted"

    run(body)


def test_limit_order_rests_then_fills_when_the_market_trades_through() -> None:
    async def body() -> None:
        async with session() as (emu, ex):
            await ex.load_markets()
            placed = await ex.create_order(
                "BTC/USDT", "limit", "buy", 0.01, 59_000, params={"newClientOrderId": "lim-1"}
            )
            assert placed["status"] == "open"
            assert [o["clientOrderId"] for o in await ex.fetch_open_orders("BTC/USDT")] == ["lim-1"]
            assert (await ex.fetch_balance())["USDT"]["used"] > 590

            quote(emu, bid=Decimal("58990"), ask=Decimal("58999"))

            fetched = await ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": "lim-1"})
            assert fetched["status"] == "closed"
            assert fetched["price"] == 59_000.0 and fetched["average"] == 59_000.0
            assert (await ex.fetch_my_trades("BTC/USDT"))[0]["takerOrMaker"] == "maker"
            assert await ex.fetch_open_orders("BTC/USDT") == []

    run(body)


def test_cancel_by_client_id_releases_the_lock() -> None:
    async def body() -> None:
        async with session() as (_, ex):
            await ex.load_markets()
            await ex.create_order(
                "BTC/USDT", "limit", "sell", 0.5, 70_000, params={"newClientOrderId": "lim-2"}
            )
            assert (await ex.fetch_balance())["BTC"]["used"] == 0.5

            canceled = await ex.cancel_order(None, "BTC/USDT", {"origClientOrderId": "lim-2"})

            assert canceled["status"] == "canceled"
            assert canceled["clientOrderId"] == "lim-2"
            assert (await ex.fetch_balance())["BTC"]["used"] == 0.0
            again = await ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": "lim-2"})
            assert again["status"] == "canceled"
            assert [o["status"] for o in await ex.fetch_orders("BTC/USDT")] == ["canceled"]

    run(body)


def test_ioc_limit_that_cannot_fill_expires() -> None:
    async def body() -> None:
        async with session() as (_, ex):
            await ex.load_markets()

            order = await ex.create_order(
                "BTC/USDT", "limit", "buy", 0.01, 59_000,
                params={"newClientOrderId": "ioc-1", "timeInForce": "IOC"},
            )  # fmt: skip

            assert order["status"] == "expired"
            assert order["filled"] == 0.0

    run(body)


def test_post_only_that_would_rest_is_accepted() -> None:
    async def body() -> None:
        async with session() as (_, ex):
            await ex.load_markets()

            order = await ex.create_order(
                "BTC/USDT", "limit", "buy", 0.01, float(BID),
                params={"newClientOrderId": "pm-ok", "postOnly": True},
            )  # fmt: skip

            assert order["status"] == "open"
            assert order["postOnly"] is True

    run(body)


def test_market_data_endpoints() -> None:
    async def body() -> None:
        async with session() as (emu, ex):
            await ex.load_markets()
            trade(emu, Decimal("60000.50"), Decimal("0.2"))
            trade(emu, Decimal("60001.00"), Decimal("0.3"))

            book = await ex.fetch_order_book("BTC/USDT")
            ticker = await ex.fetch_ticker("BTC/USDT")
            bids_asks = await ex.fetch_bids_asks(["BTC/USDT"])
            ohlcv = await ex.fetch_ohlcv("BTC/USDT", "1m")
            public = await ex.fetch_trades("BTC/USDT")

            assert book["bids"][0] == [float(BID), 5.0] and book["asks"][0] == [float(ASK), 5.0]
            assert ticker["last"] == 60001.0 and ticker["bid"] == float(BID)
            assert bids_asks["BTC/USDT"]["ask"] == float(ASK)
            assert len(ohlcv) == 1
            _, o, h, low, c, v = ohlcv[0]
            assert (o, h, low, c) == (60000.5, 60001.0, 60000.5, 60001.0) and v == 0.5
            assert [t["price"] for t in public] == [60000.5, 60001.0]
            assert [t["id"] for t in public] == ["1", "2"]

    run(body)


def test_synthetic_market_quotes_and_trades_on_its_own() -> None:
    async def body() -> None:
        import asyncio

        async with session(EmulatorConfig(source="synthetic", rate=200), quoted=False) as (
            emu,
            ex,
        ):
            await asyncio.sleep(0.3)
            await ex.load_markets()

            book = await ex.fetch_order_book("BTC/USDT", limit=5)
            order = await ex.create_order(
                "BTC/USDT", "market", "buy", 0.001, params={"newClientOrderId": "syn-1"}
            )

            assert len(book["bids"]) == 5 and book["bids"][0][0] < book["asks"][0][0]
            assert order["status"] == "closed"
            assert emu.events_applied > 50

    run(body)


def test_used_weight_header_counts_requests() -> None:
    async def body() -> None:
        async with session(enableLastResponseHeaders=True) as (_, ex):
            await ex.load_markets()  # exchangeInfo: 20
            first = int(ex.last_response_headers["X-MBX-USED-WEIGHT-1M"])
            await ex.fetch_order_book("BTC/USDT", limit=100)  # depth <= 100: 5

            assert int(ex.last_response_headers["X-MBX-USED-WEIGHT-1M"]) == first + 5
            for n in (1, 2):
                await ex.create_order(
                    "BTC/USDT", "market", "buy", 0.001, params={"newClientOrderId": f"w-{n}"}
                )
            assert ex.last_response_headers["X-MBX-ORDER-COUNT-10S"] == "2"
            assert ex.last_response_headers["X-MBX-ORDER-COUNT-1D"] == "2"

    run(body)


@pytest.mark.parametrize(
    ("resp_type", "keys"),
    [
        ("ACK", {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}),
        ("RESULT", {"status", "executedQty", "cummulativeQuoteQty", "workingTime"}),
        ("FULL", {"fills"}),
    ],
)
def test_new_order_response_types(resp_type: str, keys: set[str]) -> None:
    async def body() -> None:
        async with session() as (_, ex):
            reply = await ex.private_post_order(
                {
                    "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01",
                    "newClientOrderId": "resp-1", "newOrderRespType": resp_type,
                }
            )  # fmt: skip

            assert keys <= reply.keys()
            if resp_type == "ACK":
                assert "status" not in reply
            if resp_type == "FULL":
                assert reply["fills"][0]["price"] == "60000.01000000"

    run(body)


def test_market_buy_by_cost_uses_quote_order_qty() -> None:
    async def body() -> None:
        async with session() as (emu, ex):
            await ex.load_markets()
            quote(emu, bid=Decimal("49999.99"), ask=Decimal("50000"))

            order = await ex.create_market_buy_order_with_cost(
                "BTC/USDT", 500, params={"newClientOrderId": "cost-1"}
            )

            assert order["filled"] == 0.01 and order["average"] == 50_000.0
            assert emu.exchange.records[1].orig_quote_qty == Decimal(500)

    run(body)


def test_orders_by_exchange_id_and_history_paging() -> None:
    async def body() -> None:
        async with session() as (_, ex):
            await ex.load_markets()
            ids = []
            for n in range(4):
                placed = await ex.create_order(
                    "BTC/USDT",
                    "limit",
                    "buy",
                    0.01,
                    50_000 + n,
                    params={"newClientOrderId": f"p{n}"},
                )
                ids.append(placed["id"])

            canceled = await ex.cancel_order(ids[0], "BTC/USDT")
            by_id = await ex.fetch_order(ids[1], "BTC/USDT")
            recent = await ex.fetch_orders("BTC/USDT", limit=2)
            everything = await ex.fetch_orders("BTC/USDT")

            assert canceled["status"] == "canceled" and by_id["clientOrderId"] == "p1"
            assert [o["clientOrderId"] for o in recent] == ["p2", "p3"]
            assert [o["status"] for o in everything] == ["canceled", "open", "open", "open"]

    run(body)


def test_cancel_all_open_orders() -> None:
    async def body() -> None:
        async with session() as (_, ex):
            await ex.load_markets()
            for n in range(3):
                await ex.create_order(
                    "BTC/USDT",
                    "limit",
                    "sell",
                    0.1,
                    70_000 + n,
                    params={"newClientOrderId": f"s{n}"},
                )

            canceled = await ex.cancel_all_orders("BTC/USDT")

            assert len(canceled) == 3
            assert await ex.fetch_open_orders("BTC/USDT") == []
            assert (await ex.fetch_balance())["BTC"]["used"] == 0.0

    run(body)


def test_malformed_parameters_get_binance_errors_not_a_500() -> None:
    async def body() -> None:
        async with session() as (_, ex):
            with pytest.raises(ccxt.BadRequest, match="-1100"):
                await ex.public_get_depth({"symbol": "BTCUSDT", "limit": "lots"})
            with pytest.raises(ccxt.BadRequest, match="-1100"):
                await ex.public_get_ticker_bookticker({"symbols": "[BTCUSDT"})
            with pytest.raises(ccxt.BadRequest, match="-1120"):
                await ex.public_get_klines({"symbol": "BTCUSDT", "interval": "7m"})

    run(body)

"""WebSocket streams: Binance's message formats, the user data stream, stream
faults, and ccxt.pro's ``watch_*`` against the emulator."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from emulator_support import quote, run, session, trade

from bastion.emulator import TEST_API_KEY, Emulator, EmulatorConfig, FaultKind, FaultSpec


async def next_json(ws: aiohttp.ClientWebSocketResponse, timeout: float = 2.0) -> Any:
    msg = await asyncio.wait_for(ws.receive(), timeout)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    return msg.json()


async def subscribe(ws: aiohttp.ClientWebSocketResponse, *streams: str) -> None:
    await ws.send_json({"method": "SUBSCRIBE", "params": list(streams), "id": 7})
    assert await next_json(ws) == {"result": None, "id": 7}


async def open_ws(emu: Emulator, path: str) -> tuple[aiohttp.ClientSession, Any]:
    http = aiohttp.ClientSession()
    return http, await http.ws_connect(emu.ws_url + path)


def test_raw_trade_stream_format() -> None:
    async def body() -> None:
        async with session() as (emu, _):
            http, ws = await open_ws(emu, "/ws/btcusdt@trade")
            async with http, ws:
                trade(emu, Decimal("60000.5"), Decimal("0.25"))

                msg = await next_json(ws)

                assert msg["e"] == "trade" and msg["s"] == "BTCUSDT" and msg["t"] == 1
                assert (msg["p"], msg["q"]) == ("60000.50000000", "0.25000000")
                assert msg["m"] is False and isinstance(msg["T"], int)

    run(body)


def test_agg_trade_stream_numbers_each_trade_as_its_own_aggregate() -> None:
    async def body() -> None:
        async with session() as (emu, _):
            http, ws = await open_ws(emu, "/ws/btcusdt@aggTrade")
            async with http, ws:
                trade(emu, Decimal("60000.5"))

                msg = await next_json(ws)

                assert msg["e"] == "aggTrade" and msg["a"] == msg["f"] == msg["l"] == 1
                assert msg["p"] == "60000.50000000"

    run(body)


def test_combined_stream_wraps_each_message_with_its_stream_name() -> None:
    async def body() -> None:
        async with session() as (emu, _):
            http, ws = await open_ws(emu, "/stream?streams=btcusdt@bookTicker/btcusdt@kline_1m")
            async with http, ws:
                quote(emu, Decimal("59999"), Decimal("60001"))
                trade(emu, Decimal("60000"))

                book = await next_json(ws)
                kline = await next_json(ws)

                assert book["stream"] == "btcusdt@bookTicker"
                assert book["data"]["b"] == "59999.00000000" and book["data"]["A"] == "5.00000000"
                assert kline["stream"] == "btcusdt@kline_1m"
                k = kline["data"]["k"]
                assert kline["data"]["e"] == "kline" and k["i"] == "1m" and k["x"] is False
                assert k["o"] == k["c"] == "60000.00000000" and k["n"] == 1

    run(body)


def test_depth_diffs_continue_the_rest_snapshot() -> None:
    async def body() -> None:
        config = EmulatorConfig(source="synthetic", rate=100, start_paused=True)
        async with session(config, quoted=False) as (emu, ex):
            http, ws = await open_ws(emu, "/ws/0")
            async with http, ws:
                await subscribe(ws, "btcusdt@depth@100ms")
                emu.resume_market()
                first = await next_json(ws)
                snapshot = await ex.public_get_depth({"symbol": "BTCUSDT", "limit": 1000})
                last = snapshot["lastUpdateId"]
                diff = first
                while diff["u"] <= last:  # Binance's recipe: drop what the snapshot has
                    diff = await next_json(ws)
                following = [await next_json(ws) for _ in range(3)]

                assert first["e"] == "depthUpdate" and first["U"] == 1
                assert diff["U"] <= last + 1 <= diff["u"]
                for a, b in zip([diff, *following], following, strict=False):
                    assert b["U"] == a["u"] + 1

    run(body)


def test_unsubscribe_and_list_subscriptions() -> None:
    async def body() -> None:
        async with session() as (emu, _):
            http, ws = await open_ws(emu, "/ws")
            async with http, ws:
                await subscribe(ws, "btcusdt@trade", "ethusdt@trade")
                await ws.send_json({"method": "UNSUBSCRIBE", "params": ["ethusdt@trade"], "id": 8})
                assert await next_json(ws) == {"result": None, "id": 8}
                await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 9})

                assert await next_json(ws) == {"result": ["btcusdt@trade"], "id": 9}

    run(body)


def test_user_data_stream_reports_orders_and_balances() -> None:
    async def body() -> None:
        async with session() as (emu, ex):
            await ex.load_markets()
            http = aiohttp.ClientSession()
            async with http:
                resp = await http.post(
                    emu.url + "/api/v3/userDataStream", headers={"X-MBX-APIKEY": TEST_API_KEY}
                )
                key = (await resp.json())["listenKey"]
                async with http.ws_connect(f"{emu.ws_url}/ws/{key}") as ws:
                    await ex.create_order(
                        "BTC/USDT", "market", "buy", 0.01, params={"newClientOrderId": "u-1"}
                    )

                    events = [await next_json(ws) for _ in range(3)]

            new, filled, position = events
            assert (new["e"], new["x"], new["X"], new["c"]) == (
                "executionReport", "NEW", "NEW", "u-1",
            )  # fmt: skip
            assert (filled["x"], filled["X"], filled["l"]) == ("TRADE", "FILLED", "0.01000000")
            assert filled["L"] == "60000.01000000" and filled["N"] == "USDT"
            assert position["e"] == "outboundAccountPosition"
            assert {b["a"]: b["f"] for b in position["B"]}["BTC"] == "1.01000000"

    run(body)


def _stream_fault(kind: FaultKind, **kw: Any) -> FaultSpec:
    return FaultSpec(kind=kind, stream="btcusdt@trade", **kw)


@pytest.mark.parametrize(
    ("fault", "expected_ids"),
    [
        (_stream_fault(FaultKind.DUPLICATE_MESSAGES, count=1), [1, 1, 2, 3]),
        (_stream_fault(FaultKind.WS_STALL, count=2), [3]),
        (_stream_fault(FaultKind.LATE_MESSAGES, count=1, ms=150), [2, 3, 1]),
    ],
    ids=["duplicate", "stall", "late"],
)
def test_stream_faults_change_what_the_client_sees(
    fault: FaultSpec, expected_ids: list[int]
) -> None:
    async def body() -> None:
        async with session() as (emu, _):
            http, ws = await open_ws(emu, "/ws/btcusdt@trade")
            async with http, ws:
                emu.faults.add([fault])
                for price in ("60000", "60001", "60002"):
                    trade(emu, Decimal(price))

                seen: list[int] = []
                while len(seen) < len(expected_ids):
                    seen.append((await next_json(ws))["t"])

                assert seen == expected_ids
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(ws.receive(), 0.3)

    run(body)


def test_disconnect_fault_closes_matching_sockets_now() -> None:
    async def body() -> None:
        async with session() as (emu, _):
            http, ws = await open_ws(emu, "/ws/btcusdt@trade")
            async with http, ws:
                other_http, other = await open_ws(emu, "/ws/ethusdt@trade")
                async with other_http, other:
                    await asyncio.sleep(0.05)
                    emu.faults.add([_stream_fault(FaultKind.WS_DISCONNECT, count=1)])

                    dropped = emu.hub.disconnect_matching()

                    msg = await asyncio.wait_for(ws.receive(), 2)
                    assert dropped == 1
                    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                    assert not other.closed

    run(body)


def test_ccxt_pro_watch_trades_and_order_book() -> None:
    async def body() -> None:
        config = EmulatorConfig(source="synthetic", rate=100)
        async with session(config, quoted=False, pro=True) as (emu, ex):
            await ex.load_markets()

            trades = await ex.watch_trades("BTC/USDT")
            book = await ex.watch_order_book("BTC/USDT")
            book = await ex.watch_order_book("BTC/USDT")

            assert trades and trades[-1]["symbol"] == "BTC/USDT" and trades[-1]["price"] > 0
            assert book["bids"][0][0] < book["asks"][0][0]
            ours = emu.market.symbols["BTCUSDT"]
            assert book["nonce"] <= ours.update_id
            assert len(book["bids"]) == 10

    run(body)


def test_ccxt_pro_watch_orders_and_balance_see_the_fill() -> None:
    async def body() -> None:
        async with session(pro=True) as (_, ex):
            await ex.load_markets()
            orders_task = asyncio.create_task(ex.watch_orders("BTC/USDT"))
            balance_task = asyncio.create_task(ex.watch_balance())
            await asyncio.sleep(0.3)  # let the WS API subscription land

            await ex.create_order(
                "BTC/USDT", "market", "buy", 0.01, params={"newClientOrderId": "pro-1"}
            )
            orders = await asyncio.wait_for(orders_task, 5)
            balance = await asyncio.wait_for(balance_task, 5)

            assert orders[-1]["clientOrderId"] == "pro-1"
            assert orders[-1]["status"] in ("open", "closed")
            assert balance["BTC"]["free"] == 1.01

    run(body)


def test_ws_api_refuses_a_bad_signature() -> None:
    async def body() -> None:
        async with session() as (emu, _):
            http, ws = await open_ws(emu, "/ws-api/v3")
            async with http, ws:
                await ws.send_json(
                    {
                        "id": "a1", "method": "userDataStream.subscribe.signature",
                        "params": {"apiKey": TEST_API_KEY, "timestamp": emu.server_ms(),
                                   "signature": "00" * 32},
                    }
                )  # fmt: skip
                reply = await next_json(ws)
                await ws.send_json({"id": "a2", "method": "time"})
                clock = await next_json(ws)

        assert reply["status"] == 400 and reply["error"]["code"] == -1022
        assert clock["status"] == 200 and clock["result"]["serverTime"] > 0

    run(body)

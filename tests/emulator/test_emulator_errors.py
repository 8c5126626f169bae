"""Every error the emulator can send reaches the caller as the right ccxt exception.

The table at the top is the verified mapping: Binance's reply → what the real
ccxt 4.5 binance class raises for it when pointed at a loopback URL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import ccxt
import pytest
from emulator_support import run, session

from bastion.emulator import EmulatorConfig, FaultKind, FaultSpec

Call = Callable[[Any], Awaitable[Any]]


def _order(**extra: str) -> dict[str, str]:
    return {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
        "quantity": "0.01", "price": "59000", "newClientOrderId": "raw-1", **extra,
    }  # fmt: skip


REPLIES: list[tuple[str, Call, type[Exception], str]] = [
    (
        "fetch unknown order (-2013)",
        lambda ex: ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": "nope"}),
        ccxt.OrderNotFound, "-2013",
    ),
    (
        "cancel unknown order (-2011)",
        lambda ex: ex.cancel_order(None, "BTC/USDT", {"origClientOrderId": "nope"}),
        ccxt.OrderNotFound, "-2011",
    ),
    (
        "insufficient balance (-2010)",
        lambda ex: ex.create_order(
            "BTC/USDT", "market", "buy", 100, params={"newClientOrderId": "big"}
        ),
        ccxt.InsufficientFunds, "insufficient balance",
    ),
    (
        "sell more than held (-2010)",
        lambda ex: ex.create_order(
            "BTC/USDT", "limit", "sell", 5, 70_000, params={"newClientOrderId": "big-sell"}
        ),
        ccxt.InsufficientFunds, "insufficient balance",
    ),
    (
        "post-only would take (-2010)",
        lambda ex: ex.create_order(
            "BTC/USDT", "limit", "buy", 0.01, 61_000,
            params={"newClientOrderId": "pm", "postOnly": True},
        ),
        ccxt.OrderImmediatelyFillable, "immediately match and take",
    ),
    (
        "LOT_SIZE filter (-1013)",
        lambda ex: ex.private_post_order(_order(quantity="0.000001")),
        ccxt.InvalidOrder, "LOT_SIZE",
    ),
    (
        "PRICE_FILTER filter (-1013)",
        lambda ex: ex.private_post_order(_order(price="59000.001")),
        ccxt.InvalidOrder, "PRICE_FILTER",
    ),
    (
        "NOTIONAL filter (-1013): ccxt says BadRequest, not InvalidOrder",
        lambda ex: ex.private_post_order(_order(quantity="0.00001")),
        ccxt.BadRequest, "NOTIONAL",
    ),
    (
        "unknown symbol (-1121)",
        lambda ex: ex.private_post_order(_order(symbol="FOOBAR")),
        ccxt.BadSymbol, "-1121",
    ),
    (
        "unsupported time in force (-1115)",
        lambda ex: ex.private_post_order(_order(timeInForce="GTX")),
        ccxt.BadRequest, "-1115",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "expected", "text"),
    [r[1:] for r in REPLIES],
    ids=[r[0] for r in REPLIES],
)
def test_error_reply_maps_to_ccxt_class(call: Call, expected: type[Exception], text: str) -> None:
    async def body() -> None:
        async with session() as (emu, ex):
            await ex.load_markets()

            with pytest.raises(expected) as info:
                await call(ex)

            assert text in str(info.value)
            assert emu.exchange.open_orders(None) == []

    run(body)


def test_duplicate_client_id_is_refused_and_told_apart_by_its_message() -> None:
    async def body() -> None:
        async with session() as (emu, ex):
            await ex.load_markets()
            await ex.create_order(
                "BTC/USDT", "limit", "buy", 0.01, 59_000, params={"newClientOrderId": "dup"}
            )

            with pytest.raises(ccxt.InvalidOrder) as info:
                await ex.create_order(
                    "BTC/USDT", "limit", "buy", 0.01, 59_000, params={"newClientOrderId": "dup"}
                )

            # ccxt has DuplicateOrderId but does not map Binance's reply to it.
            assert not isinstance(info.value, ccxt.DuplicateOrderId)
            assert "Duplicate order sent." in str(info.value)
            assert [r.outcome for r in emu.exchange.requests_for("dup")] == ["accepted", "-2010"]
            assert len(emu.exchange.open_orders("BTCUSDT")) == 1

    run(body)


@pytest.mark.parametrize(
    ("client", "code"),
    [
        ({"secret": "wrong-secret"}, "-1022"),
        ({"apiKey": "unknown-key"}, "-2015"),
        ({"apiKey": "not a key!"}, "-2014"),
    ],
    ids=["bad signature", "unknown key", "malformed key"],
)
def test_bad_credentials_are_refused_and_nothing_is_placed(
    client: dict[str, Any], code: str
) -> None:
    async def body() -> None:
        async with session(**client) as (emu, ex):
            await ex.load_markets()

            with pytest.raises(ccxt.AuthenticationError) as info:
                await ex.create_order(
                    "BTC/USDT", "market", "buy", 0.01, params={"newClientOrderId": "auth-1"}
                )

            assert code in str(info.value)
            assert emu.exchange.received == [] and emu.exchange.records == {}

    run(body)


@pytest.mark.parametrize("skew_ms", [20_000, -5_000], ids=["server ahead", "server behind"])
def test_clock_skew_beyond_recv_window_raises_invalid_nonce(skew_ms: int) -> None:
    async def body() -> None:
        skew = FaultSpec(kind=FaultKind.CLOCK_SKEW, ms=skew_ms)
        async with session(EmulatorConfig(source="none", faults=(skew,))) as (emu, ex):
            await ex.load_markets()

            with pytest.raises(ccxt.InvalidNonce, match="-1021"):
                await ex.fetch_balance()

            emu.faults.clear()
            assert (await ex.fetch_balance())["USDT"]["free"] == 100_000.0

    run(body)


FAULT_CLASSES: list[tuple[FaultSpec, type[Exception]]] = [
    (FaultSpec(kind=FaultKind.RATE_LIMIT, count=1), ccxt.DDoSProtection),
    # retry_after_s=0: the ban lifts at once, so the test can look for the order after
    (FaultSpec(kind=FaultKind.BAN, count=1, retry_after_s=0), ccxt.DDoSProtection),
    (FaultSpec(kind=FaultKind.HTTP_ERROR, status=503, count=1), ccxt.ExchangeNotAvailable),
    (FaultSpec(kind=FaultKind.HTTP_ERROR, status=500, count=1), ccxt.ExchangeNotAvailable),
    (FaultSpec(kind=FaultKind.HTTP_ERROR, status=504, count=1), ccxt.RequestTimeout),
    (FaultSpec(kind=FaultKind.TIMEOUT_BEFORE_ACCEPT, count=1), ccxt.RequestTimeout),
    (FaultSpec(kind=FaultKind.TIMEOUT_BEFORE_ACCEPT, mode="drop"), ccxt.ExchangeNotAvailable),
]


@pytest.mark.parametrize(
    ("fault", "expected"),
    FAULT_CLASSES,
    ids=["429", "418", "503", "500", "504", "timeout", "dropped"],
)
def test_injected_failure_before_the_order_maps_and_places_nothing(
    fault: FaultSpec, expected: type[Exception]
) -> None:
    async def body() -> None:
        async with session(timeout=500) as (emu, ex):
            await ex.load_markets()
            emu.faults.add([fault.model_copy(update={"path": "/api/v3/order", "method": "POST"})])

            with pytest.raises(expected):
                await ex.create_order(
                    "BTC/USDT", "market", "buy", 0.01, params={"newClientOrderId": "f-1"}
                )

            assert emu.exchange.received == []
            with pytest.raises(ccxt.OrderNotFound):
                await ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": "f-1"})

    run(body)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("hang", ccxt.RequestTimeout), ("drop", ccxt.ExchangeNotAvailable)],
)
def test_timeout_after_accept_leaves_exactly_one_order_found_by_client_id(
    mode: str, expected: type[Exception]
) -> None:
    async def body() -> None:
        fault = FaultSpec(
            kind=FaultKind.TIMEOUT_AFTER_ACCEPT, path="/api/v3/order", method="POST",
            count=1, mode=mode,
        )  # fmt: skip
        async with session(timeout=500) as (emu, ex):
            await ex.load_markets()
            emu.faults.add([fault])

            with pytest.raises(expected):
                await ex.create_order(
                    "BTC/USDT", "market", "buy", 0.01, params={"newClientOrderId": "lost-1"}
                )

            assert len(emu.exchange.requests_for("lost-1")) == 1
            found = await ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": "lost-1"})
            assert found["status"] == "closed" and found["filled"] == 0.01

    run(body)


def test_weight_limit_gives_429_then_a_ban() -> None:
    async def body() -> None:
        config = EmulatorConfig(source="none", weight_limit=30)
        async with session(config, enableLastResponseHeaders=True) as (emu, ex):
            await ex.load_markets()  # 20 of 30
            for _ in range(10):
                await ex.public_get_ping()
            with pytest.raises(ccxt.DDoSProtection, match="429"):
                await ex.public_get_ping()
            assert ex.last_response_headers.get("Retry-After")
            for _ in range(emu.weights.strikes_before_ban - 1):
                with pytest.raises(ccxt.DDoSProtection, match="429"):
                    await ex.public_get_ping()

            with pytest.raises(ccxt.DDoSProtection, match="418"):
                await ex.public_get_ping()
            with pytest.raises(ccxt.DDoSProtection, match="418"):
                await ex.fetch_time()

    run(body)


def test_schema_drift_changes_the_reply_but_not_the_order() -> None:
    async def body() -> None:
        drift = FaultSpec(
            kind=FaultKind.SCHEMA_DRIFT, path="/api/v3/order", method="POST", count=1,
            drop_fields=("status", "executedQty"), set_fields={"surprise": 1},
        )  # fmt: skip
        async with session(EmulatorConfig(source="none", faults=(drift,))) as (_, ex):
            await ex.load_markets()

            order = await ex.create_order(
                "BTC/USDT", "market", "buy", 0.01, params={"newClientOrderId": "drift-1"}
            )

            assert order["status"] is None and order["info"]["surprise"] == 1
            found = await ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": "drift-1"})
            assert found["status"] == "closed"

    run(body)


def test_latency_fault_delays_the_reply() -> None:
    async def body() -> None:
        import time

        slow = FaultSpec(kind=FaultKind.LATENCY, path="/api/v3/time", ms=300, count=1)
        async with session(EmulatorConfig(source="none", faults=(slow,))) as (_, ex):
            start = time.monotonic()
            await ex.fetch_time()
            slow_s = time.monotonic() - start
            start = time.monotonic()
            await ex.fetch_time()
            fast_s = time.monotonic() - start

            assert slow_s >= 0.3 > fast_s

    run(body)


def test_ban_fault_lasts_beyond_the_request_that_drew_it() -> None:
    async def body() -> None:
        ban = FaultSpec(kind=FaultKind.BAN, count=1, retry_after_s=30)
        async with session(EmulatorConfig(source="none", faults=(ban,))) as (emu, ex):
            with pytest.raises(ccxt.DDoSProtection, match="418"):
                await ex.fetch_time()
            with pytest.raises(ccxt.DDoSProtection, match="418"):
                await ex.fetch_time()

            emu.weights.reset()
            assert await ex.fetch_time() > 0

    run(body)


def test_a_key_revoked_mid_session_looks_like_a_rate_limit_to_ccxt() -> None:
    """ccxt quirk worth knowing: after one successful private call, binance's
    -2015 is raised as DDoSProtection (a temporary ban), not AuthenticationError."""

    async def body() -> None:
        keys = {"live-key": "live-secret"}
        config = EmulatorConfig(source="none", api_keys=keys)
        async with session(config, apiKey="live-key", secret="live-secret") as (_, ex):
            await ex.fetch_balance()
            keys.clear()

            with pytest.raises(ccxt.DDoSProtection, match="-2015"):
                await ex.fetch_balance()

    run(body)

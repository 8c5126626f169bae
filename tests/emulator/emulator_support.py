"""Factories for emulator tests: an emulator with a ccxt client pointed at it.

Tests are plain functions that run one coroutine with ``asyncio.run`` (no
asyncio plugin needed); ``session`` starts an emulator, builds the real
``ccxt.async_support.binance`` (or ``ccxt.pro``) class pointed at it, and
tears both down, so each test reads Arrange / Act / Assert.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro

from bastion.emulator import (
    CCXT_OPTIONS,
    TEST_API_KEY,
    TEST_API_SECRET,
    Emulator,
    EmulatorConfig,
    point_ccxt,
)
from bastion.emulator.market import QuoteEvent, TradeEvent

BID, ASK = Decimal("60000.00"), Decimal("60000.01")


def make_client(emu: Emulator, *, pro: bool = False, **overrides: Any) -> Any:
    """The real ccxt binance class, unmodified but for its URLs."""
    options = {**CCXT_OPTIONS, **overrides.pop("options", {})}
    config = {
        "apiKey": TEST_API_KEY,
        "secret": TEST_API_SECRET,
        "enableRateLimit": False,
        "options": options,
        **overrides,
    }
    cls = ccxt_pro.binance if pro else ccxt_async.binance
    return point_ccxt(cls(config), emu.url)


def quote(emu: Emulator, bid: Decimal = BID, ask: Decimal = ASK, symbol: str = "BTCUSDT") -> None:
    emu.apply(
        QuoteEvent(
            symbol=symbol, ts=emu.server_ms(), bid=bid, bid_qty=Decimal(5), ask=ask,
            ask_qty=Decimal(5),
        )
    )  # fmt: skip


def trade(emu: Emulator, price: Decimal, qty: Decimal = Decimal("0.1")) -> None:
    emu.apply(
        TradeEvent(symbol="BTCUSDT", ts=emu.server_ms(), price=price, qty=qty, buyer_maker=False)
    )


@contextlib.asynccontextmanager
async def session(
    config: EmulatorConfig | None = None, *, quoted: bool = True, pro: bool = False, **client: Any
) -> AsyncIterator[tuple[Emulator, Any]]:
    """An emulator (no market source unless ``config`` says so) and a client for it."""
    emu = Emulator(config or EmulatorConfig(source="none"))
    await emu.start()
    if quoted:
        quote(emu)
    ex = make_client(emu, pro=pro, **client)
    try:
        yield emu, ex
    finally:
        await ex.close()
        await emu.stop()


def run(fn: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    """Run one async test body with an overall time limit."""

    async def bounded() -> Any:
        return await asyncio.wait_for(fn(), timeout)

    return asyncio.run(bounded())

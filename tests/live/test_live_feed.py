"""The trade feed over ccxt.pro against the emulator: loss is never silent."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from live_support import SYMBOL, start_emulator

from bastion.data.feeds import CcxtTradeFeed
from bastion.emulator import EmulatorConfig
from bastion.model import Trade


def test_a_trade_cache_overrun_is_reported_not_swallowed() -> None:
    thread, emu = start_emulator(EmulatorConfig(source="synthetic", rate=1_000))
    events: list[tuple[str, dict[str, Any]]] = []
    trades: list[Trade] = []

    def on_trade(t: Trade) -> None:
        trades.append(t)
        if len(trades) == 1:
            time.sleep(0.3)  # the loop is held up: ~150 trades queue behind a cache of 20

    async def body() -> CcxtTradeFeed:
        feed = CcxtTradeFeed(
            "binance", [SYMBOL], on_trade, lambda k, ts, p: events.append((k, p)),
            base_url=emu.url, ws_url=emu.ws_url, trades_limit=20,
        )  # fmt: skip
        task = asyncio.create_task(feed.run())
        try:
            async with asyncio.timeout(10):
                while not feed.overflows:
                    await asyncio.sleep(0.05)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return feed

    try:
        feed = asyncio.run(body())
    finally:
        thread.stop()

    assert feed.overflows >= 1
    _, payload = next(e for e in events if e[0] == "feed_overflow")
    assert payload == {"symbol": SYMBOL, "trades_limit": 20, "alert": True}

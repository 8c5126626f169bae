"""Warm-up: fill the strategies' indicators from history before the first decision.

A 50-bar average on 1-minute bars would otherwise need 50 minutes of live
data before it could say anything. Each strategy declares the bars it needs
(``Strategy.warmup``); before the first live decision the bot takes that many
complete bars per symbol from the local store (``bastion download``), else
from the exchange's klines, and passes them through the data gate exactly as
live bars would go (gaps and all: a gap stays a gap). The strategies then
``decide`` over them with their intents discarded, so any memory they keep
(the sign of the last cross) is what a backtest over the same bars would have
left: the first live bar is decided as if the bot had been running.

``plan`` and ``apply`` are pure; ``load`` is the shell (store, then exchange).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bastion.data.errors import DataError
from bastion.data.store import SeriesKey, read_series
from bastion.engine.cycle import Bot
from bastion.model import AccountSnapshot, Bar
from bastion.strategy import Strategy


@dataclass(frozen=True, slots=True)
class WarmupReport:
    symbol: str
    needed: int
    loaded: int
    source: str  # "store", "exchange" or "none"


def needed(strategies: Sequence[Strategy[Any, Any]], symbols: Sequence[str]) -> dict[str, int]:
    """Bars each symbol needs: the most any strategy trading it declares."""
    return {s: max((st.warmup for st in strategies if s in st.symbols), default=0) for s in symbols}


def from_store(root: Path, key: SeriesKey, n: int, before: int) -> list[Bar]:
    """The last ``n`` stored bars opening before ``before``."""
    try:
        s = read_series(root, key, before - (n + 1) * key.interval_ms * 4, before)
    except DataError:
        return []
    i = max(0, len(s) - n)
    return [s.bar(k) for k in range(i, len(s))]


async def from_exchange(ex: Any, key: SeriesKey, n: int, before: int) -> list[Bar]:
    """The last ``n`` complete bars from the exchange's klines (one request)."""
    iv = key.interval_ms
    rows = await ex.fetch_ohlcv(key.symbol, key.timeframe, since=before - n * iv, limit=n + 1)
    bars = [
        Bar(symbol=key.symbol, ts=int(r[0]), interval_ms=iv, open=float(r[1]), high=float(r[2]),
            low=float(r[3]), close=float(r[4]), volume=float(r[5]))
        for r in rows
        if r[0] is not None and int(r[0]) < before
    ]  # fmt: skip
    return bars[-n:]


def apply(bot: Bot, history: Mapping[str, Sequence[Bar]], quote_asset: str = "USDT") -> None:
    """History through the gate, bar time by bar time; strategies decide over it and
    keep their memory, their intents dropped (nothing is sent, nothing journaled)."""
    gate = bot.gate
    rows = sorted((b.ts, b.symbol, b) for bars in history.values() for b in bars)
    if not rows:
        return
    times = np.unique([ts for ts, _, _ in rows])
    k = 0
    for ts in times.tolist():
        while k < len(rows) and rows[k][0] == ts:
            b = rows[k][2]
            gate.on_bar(b.symbol, b.ts, b.open, b.high, b.low, b.close, b.volume)
            k += 1
        close = ts + min(b.interval_ms for bars in history.values() for b in bars[:1])
        view = gate.view_at(close)
        account = AccountSnapshot(ts=close, quote_asset=quote_asset)
        for slot in bot.slots:
            _, slot.memory = slot.strategy.decide(view, account, slot.memory)


async def load(
    exchange_id: str,
    timeframe: str,
    wants: Mapping[str, int],
    now: int,
    *,
    store: Path,
    base_url: str | None = None,
    ws_url: str | None = None,
    sandbox: bool = False,
) -> tuple[dict[str, list[Bar]], list[WarmupReport]]:
    """Each symbol's history: from the store when it holds enough, else the exchange.

    A failing exchange is not a reason to stay down: the report says what was
    loaded, and the status line counts the rest in as live bars arrive."""
    from bastion.venues.ccxt.client import make_exchange

    history: dict[str, list[Bar]] = {}
    reports: list[WarmupReport] = []
    ex: Any = None
    try:
        for sym, n in wants.items():
            if n <= 0:
                continue
            key = SeriesKey(exchange_id, sym, timeframe)
            before = now - now % key.interval_ms  # the bar opening here is still moving
            bars, source = from_store(store, key, n, before), "store"
            if len(bars) < n:
                try:
                    if ex is None:
                        ex = make_exchange(exchange_id, base_url=base_url, ws_url=ws_url,
                                           sandbox=sandbox)  # fmt: skip
                    fetched = await from_exchange(ex, key, n, before)
                except Exception:
                    fetched = []
                if len(fetched) > len(bars):
                    bars, source = fetched, "exchange"
            history[sym] = bars
            reports.append(WarmupReport(sym, n, len(bars), source if bars else "none"))
    finally:
        if ex is not None:
            await ex.close()
    return history, reports

"""Warm-up: fill the strategies' indicators from history before the first decision.

A 50-bar average on 1-minute bars would otherwise need 50 minutes of live
data before it could say anything. Each strategy declares the bars it needs
(``Strategy.warmup``); before the first live decision the bot takes that many
complete bars per symbol from the local store (``bastion download``), else
from the exchange's klines, and passes them through the data gate exactly as
live bars would go (gaps and all: a gap stays a gap), so the indicators at
the first live bar are those a bot running all along would have.

``plan`` and ``apply`` are pure; ``load`` is the shell (store, then exchange).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bastion.data.errors import DataError
from bastion.data.store import SeriesKey, read_series
from bastion.engine.cycle import Bot
from bastion.model import Bar
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


def apply(bot: Bot, history: Mapping[str, Sequence[Bar]]) -> None:
    """History through the gate in time order, as live bars would go (gaps
    journaled as gaps). Only the indicators are filled: no decision is taken
    on history, so no strategy memory is built from an account it never had."""
    gate = bot.gate
    for b in sorted((b for bars in history.values() for b in bars), key=lambda b: (b.ts, b.symbol)):
        gate.on_bar(b.symbol, b.ts, b.open, b.high, b.low, b.close, b.volume)


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

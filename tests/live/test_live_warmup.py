"""Warm-up: a paper bot fills its strategy's indicators from history before its
first decision, so a 50-bar SMA decides at the first live bar (through the
emulator and ccxt), and the status says "warming up n/m" until it can.

The fast test warms up from the local store on 1-second bars; the slow one
takes 1-minute klines from the emulator's history (``history_bars``), as the
README's paper example does against ``bastion emulator``.
"""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from live_support import start_emulator, wall_ms

from bastion.config import parse_config
from bastion.data.store import SeriesKey, write_bars
from bastion.emulator import EmulatorConfig
from bastion.engine.live import run_bot
from bastion.model import AccountSnapshot, Intent, TargetPosition
from bastion.model.indicators import SMA, IndicatorSpec
from bastion.model.view import MarketView
from bastion.observe.journal import read_events
from bastion.strategy import Strategy, registry

pytestmark = pytest.mark.slow


@dataclass(frozen=True, slots=True, kw_only=True)
class AboveParams:
    period: int = 50


class Above(Strategy[AboveParams, None]):
    """Long 0.001 while the close is above its SMA: an intent at every defined bar."""

    name = "sma_above"
    Params = AboveParams

    def __init__(self, params: AboveParams, symbols: Sequence[str], iid: str | None = None):
        super().__init__(params, symbols, iid)
        self._sma = SMA(params.period)

    def indicators(self, symbol: str) -> Iterable[IndicatorSpec]:
        return (self._sma,)

    def initial_memory(self) -> None:
        return None

    def decide(self, view: MarketView, account: AccountSnapshot, memory: None) -> Any:
        out: list[Intent] = []
        for sym in self.symbols:
            sma = view[sym].value(self._sma)
            if sma is not None:
                qty = Decimal("0.001") if view[sym].close > sma else Decimal(0)
                out.append(TargetPosition(symbol=sym, qty=qty))
        return out, None


def _config(emu: Any, folder: Path, interval: str) -> Any:
    return parse_config(
        {
            "name": "warmup-test",
            "data_dir": str(folder),
            "exchange": {
                "id": "binance", "mode": "paper", "base_url": emu.url, "ws_url": emu.ws_url,
                "bar_interval": interval, "refresh_s": 0.5, "rate_limit": False,
                "paper_balances": {"USDT": "100000"},
            },
            "strategies": [
                {"name": "sma_above", "symbols": ["BTC/USDT"], "params": {"period": 50}}
            ],
        },
        "warmup-test",
    )  # fmt: skip


def _run(emu: Any, folder: Path, interval: str, duration_s: float) -> tuple[list[str], list[dict]]:
    lines: list[str] = []
    asyncio.run(
        run_bot(_config(emu, folder, interval), duration_s=duration_s, status=lines.append,
                status_every_s=0.5)
    )  # fmt: skip
    return lines, list(read_events(folder))


@pytest.fixture(autouse=True)
def sma_above(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.STRATEGIES, "sma_above", Above)


def _store_history(root: Path, n: int, interval_ms: int) -> None:
    end = wall_ms() - wall_ms() % interval_ms
    ts = [end - (n - i) * interval_ms for i in range(n)]
    px = [60_000.0 + (i % 7) for i in range(n)]
    table = pa.table({"ts": ts, "open": px, "high": px, "low": px, "close": px,
                      "volume": [1.0] * n})  # fmt: skip
    write_bars(root, SeriesKey("binance", "BTC/USDT", "1s"), table)


def test_a_50_bar_sma_decides_at_its_first_live_bar_after_warming_up_from_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    monkeypatch.setenv("BASTION_STORE", str(store))
    _store_history(store, 80, 1_000)
    thread, emu = start_emulator(EmulatorConfig(source="synthetic", rate=20))
    try:
        lines, events = _run(emu, tmp_path / "bot", "1s", 6)
    finally:
        thread.stop()

    (w,) = [e for e in events if e["kind"] == "warmup"]
    assert (w["needed"], w["loaded"], w["source"]) == (51, 51, "store")
    cycles = [e for e in events if e["kind"] == "cycle"]
    assert cycles and cycles[0]["cycle"] == 1 and cycles[0]["intents"]  # decided at once
    assert any("warming up BTC/USDT: 51/51 bars from store" in x for x in lines)


def test_without_history_the_status_says_warming_up(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BASTION_STORE", str(tmp_path / "empty"))
    thread, emu = start_emulator(EmulatorConfig(source="synthetic", rate=20))
    try:
        lines, events = _run(emu, tmp_path / "bot", "1s", 5)
    finally:
        thread.stop()

    assert not [e for e in events if e["kind"] == "cycle"]  # nothing decided yet
    assert any("warming up " in x and "/51" in x for x in lines if "cycle" in x), lines


def test_the_readme_paper_example_warms_up_from_klines_and_orders_in_its_first_minutes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """examples/bot.toml on 1m bars against an emulator with a day of past klines
    (as ``bastion emulator`` serves by default), plus a 50-bar SMA strategy that
    wants a position at every defined bar: it decides at the first live bar."""
    monkeypatch.setenv("BASTION_STORE", str(tmp_path / "empty"))
    example = Path(__file__).parents[2] / "examples" / "bot.toml"
    raw = tomllib.loads(example.read_text(encoding="utf-8"))
    thread, emu = start_emulator(EmulatorConfig(source="synthetic", rate=20, history_bars=1440))
    raw["data_dir"] = str(tmp_path / "bot")
    raw["exchange"] |= {"base_url": emu.url, "ws_url": emu.ws_url}
    raw["strategies"].append({"name": "sma_above", "symbols": ["BTC/USDT"], "params": {}})
    lines: list[str] = []
    try:
        to_next_minute = 60 - (wall_ms() % 60_000) / 1000
        asyncio.run(
            run_bot(parse_config(raw, "bot.toml"), duration_s=to_next_minute + 15,
                    status=lines.append, status_every_s=1)
        )  # fmt: skip
    finally:
        thread.stop()

    events = list(read_events(tmp_path / "bot"))
    warm = {e["symbol"]: e for e in events if e["kind"] == "warmup"}
    assert (warm["BTC/USDT"]["loaded"], warm["BTC/USDT"]["source"]) == (51, "exchange")
    assert any("warming up BTC/USDT: 51/51 bars from exchange" in x for x in lines)
    first = [e for e in events if e["kind"] == "cycle" and e["cycle"] == 1]
    assert any(e["strategy"].startswith("sma_above") and e["intents"] for e in first)
    assert any(e["kind"] == "order_submitted" for e in events), "no order in the first minutes"

"""Protection in a backtest: a protected long is stopped out by the simulated
venue's documented bar rules (``bastion.venues.sim.stops``), the strategy's
target is then held (no buy-back), and an unprotected run is unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from tests.engine.conftest import MINUTE, T0

from bastion.config import ConfigError, parse_config
from bastion.engine.backtest import run_backtest
from bastion.model import BarSeries, OrderType, PlaceOrder, Side, TargetPosition
from bastion.observe.journal import read_events
from bastion.strategy import Strategy

SYMBOL = "SYN/USDT"


@dataclass(frozen=True)
class _Params:
    qty: Decimal = Decimal(1)


class HoldLong(Strategy[_Params, None]):
    """Wants ``qty`` long, always (a target that never changes its mind)."""

    name = "hold_long"
    Params = _Params

    def initial_memory(self) -> None:
        return None

    def decide(self, view, account, memory):
        return [TargetPosition(symbol=s, qty=self.params.qty) for s in self.symbols], None


def series(bars: list[tuple[float, float, float, float]]) -> BarSeries:
    """Bars from (open, high, low, close), one a minute."""
    o, h, lo, c = (np.array(col, dtype=np.float64) for col in zip(*bars, strict=True))
    return BarSeries(
        symbol=SYMBOL,
        interval_ms=MINUTE,
        ts=T0 + np.arange(len(bars), dtype=np.int64) * MINUTE,
        open=o,
        high=h,
        low=lo,
        close=c,
        volume=np.full(len(bars), 1_000.0),
        source="test:crash",
        synthetic=True,
    )


FLAT = [(100.0, 100.0, 100.0, 100.0)] * 10
# The stop is placed at the mark 100: it triggers at 98.00 and sells no lower than 97.00.
CRASH = [*FLAT, (100.0, 100.0, 95.0, 95.0), (95.0, 95.0, 90.0, 90.0), *[(90.0,) * 4] * 5]
PROTECT = {"stop_pct": "0.02", "limit_pct": "0.03"}


def config(protect: dict[str, Any] | None = PROTECT, **venue: Any) -> Any:
    entry: dict[str, Any] = {"name": "hold_long", "symbols": [SYMBOL]}
    if protect is not None:
        entry["protect"] = protect
    return parse_config({"strategies": [entry], "venue": {"fee_bps": 0, **venue}})


def run(bars: list[tuple[float, float, float, float]], cfg: Any, tmp_path: Any = None) -> Any:
    journal = tmp_path / "j.sqlite" if tmp_path is not None else None
    return run_backtest([series(bars)], [HoldLong(_Params(), [SYMBOL])], cfg, journal_path=journal)


def fills(result: Any) -> list[tuple[str, str, str, str]]:
    """(origin prefix, side, qty, price) per fill, numbers normalised."""
    return [
        (f.client_id[:2], f.side.value, f"{f.qty.normalize():f}", f"{f.price.normalize():f}")
        for _s, f in result.fills
    ]


def test_a_protected_long_is_stopped_out_at_its_limit_and_not_bought_back(tmp_path) -> None:
    result = run(CRASH, config(), tmp_path)

    assert fills(result) == [("bn", "buy", "1", "100"), ("bp", "sell", "1", "97")]
    assert result.venue.fetch_account().position(SYMBOL) == 0
    assert result.venue.fetch_open_orders() == []
    events = list(read_events(tmp_path / "j.sqlite", kinds=["protection"]))
    assert [e["action"] for e in events] == ["place", "filled"]
    placed = events[0]
    assert (Decimal(placed["stop"]), Decimal(placed["limit"]), placed["qty"]) == (98, 97, "1")


def test_the_same_protected_backtest_twice_gives_the_same_fills() -> None:
    first, second = run(CRASH, config()), run(CRASH, config())

    assert fills(first) == fills(second)
    assert list(first.equity) == list(second.equity)


def test_without_protection_the_long_rides_the_crash_as_before() -> None:
    result = run(CRASH, config(protect=None))

    assert fills(result) == [("bn", "buy", "1", "100")]
    assert result.venue.fetch_account().position(SYMBOL) == 1


def test_a_bar_that_gaps_below_the_limit_leaves_the_stop_unfilled_until_the_limit_trades() -> None:
    gap = [*FLAT, (96.0, 96.0, 93.0, 94.0), (94.0, 96.5, 94.0, 96.0), (96.0, 97.5, 96.0, 97.0)]

    result = run(gap, config())

    # Triggered at the gap's open (96 < 98) but the market was below its limit
    # (97): it rests until a bar trades at 97, and fills there, never better.
    assert fills(result)[1:] == [("bp", "sell", "1", "97")]
    assert result.fills[1][1].ts == T0 + 12 * MINUTE


def test_a_bar_that_reaches_the_stop_but_not_the_limit_fills_only_on_a_later_bar() -> None:
    dip = [*FLAT, (100.0, 100.0, 97.5, 99.0), (99.0, 99.0, 99.0, 99.0)]

    result = run(dip, config())

    assert fills(result)[1:] == [("bp", "sell", "1", "97")]
    assert result.fills[1][1].ts == T0 + 11 * MINUTE  # the bar after the trigger


def test_an_oco_takes_profit_and_the_stop_expires() -> None:
    rally = [*FLAT, (100.0, 106.0, 100.0, 105.0), *[(105.0,) * 4] * 3]

    result = run(rally, config({**PROTECT, "take_profit_pct": "0.05"}))

    assert fills(result)[1:] == [("bp", "sell", "1", "105")]
    assert result.venue.fetch_open_orders() == []
    ended = {
        mo.request.client_id[-1]: mo.status.value
        for mo in result.bot.orders.orders.values()
        if mo.request.origin == "protect"
    }
    assert ended == {"0": "expired", "1": "filled"}  # leg 0 the stop, leg 1 the take-profit


def test_when_both_oco_legs_could_act_in_one_bar_the_stop_acts_first() -> None:
    wild = [*FLAT, (100.0, 106.0, 95.0, 100.0), *[(100.0,) * 4] * 3]

    result = run(wild, config({**PROTECT, "take_profit_pct": "0.05"}))

    assert fills(result)[1:] == [("bp", "sell", "1", "97")]


def test_protection_below_the_minimum_notional_is_not_placed_and_says_why(tmp_path) -> None:
    result = run(CRASH, config(min_notional="500"), tmp_path)

    assert fills(result) == []  # the buy itself is below the minimum: nothing to protect
    small = run(CRASH, config(min_notional="99"), tmp_path / "b")
    events = list(read_events(tmp_path / "b" / "j.sqlite", kinds=["protection"]))
    assert [e["action"] for e in events] == ["none"]
    assert "notional" in events[0]["reason"]
    assert fills(small) == [("bn", "buy", "1", "100")]


def test_a_strategy_that_sells_cancels_its_protection_first() -> None:
    class SellAt(HoldLong):
        name = "sell_at"

        def decide(self, view, account, memory):
            n = (memory or 0) + 1
            if n == 1:
                return [
                    PlaceOrder(symbol=SYMBOL, side=Side.BUY, qty=Decimal(1), type=OrderType.MARKET)
                ], n
            if n == 5:
                return [
                    PlaceOrder(symbol=SYMBOL, side=Side.SELL, qty=Decimal(1), type=OrderType.MARKET)
                ], n
            return [], n

    cfg = parse_config(
        {"strategies": [{"name": "sell_at", "symbols": [SYMBOL], "protect": PROTECT}]}
    )
    result = run_backtest([series(CRASH)], [SellAt(_Params(), [SYMBOL])], cfg)

    assert [(c, s) for c, s, _q, _p in fills(result)] == [("bn", "buy"), ("bn", "sell")]
    protective = [mo for mo in result.bot.orders.orders.values() if mo.request.origin == "protect"]
    assert [mo.status.value for mo in protective] == ["cancelled"]


@pytest.mark.parametrize(
    ("protect", "message"),
    [
        ({"stop_pct": "0.03", "limit_pct": "0.02"}, "limit_pct 0.02 is below stop_pct 0.03"),
        ({"stop_pct": "1.5", "limit_pct": "2"}, "strategies.0.protect.stop_pct = '1.5'"),
        ({"stop_pct": "0.02"}, "strategies.0.protect.limit_pct"),
        ({"stop_pct": "0.02", "limit_pct": "0.03", "trail": 1}, "protect.trail"),
    ],
)
def test_a_bad_protection_is_one_line_naming_the_key(protect: Any, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        config(protect)

    assert message in str(err.value) and "\n" not in str(err.value)


def test_explain_says_why_a_protective_order_exists(tmp_path) -> None:
    from typer.testing import CliRunner

    from bastion.cli import app
    from bastion.observe.explain import explain

    result = run(CRASH, config(), tmp_path)
    [stop] = [mo for mo in result.bot.orders.orders.values() if mo.request.origin == "protect"]
    cid = stop.request.client_id

    ex = explain(tmp_path / "j.sqlite", cid)
    text = CliRunner().invoke(app, ["explain", str(tmp_path / "j.sqlite"), cid])

    assert ex.protection is not None and ex.strategy is not None
    assert ex.protection["reason"] == "protection: a long position with no protection"
    assert ex.strategy["id"] == "hold_long" and ex.context is not None
    assert [e["action"] for e in ex.events if e["kind"] == "protection"] == ["place", "filled"]
    assert text.exit_code == 0, text.output
    assert "protection (not risk-reviewed" in text.output and "no protection" in text.output


def test_the_order_rate_limit_does_not_delay_a_protective_order() -> None:
    cfg = parse_config(
        {
            "strategies": [{"name": "hold_long", "symbols": [SYMBOL], "protect": PROTECT}],
            "venue": {"fee_bps": 0},
            "risk": {"rate": {"orders_per_minute": 1, "orders_per_minute_symbol": 1}},
        }
    )

    limited, free = run(CRASH, cfg), run(CRASH, config())

    def placed(result: Any) -> list[int]:
        return [
            mo.created_ts
            for mo in result.bot.orders.orders.values()
            if mo.request.origin == "protect"
        ]

    assert fills(limited) == fills(free) == [("bn", "buy", "1", "100"), ("bp", "sell", "1", "97")]
    assert placed(limited) == placed(free)  # not a cycle later


def test_a_resting_protective_sell_is_not_counted_as_new_exposure() -> None:
    """The position grows while its protection rests: the buy is reviewed with the
    protection as the position's way out, and then the protection grows with it."""

    class Grow(HoldLong):
        name = "grow"

        def decide(self, view, account, memory):
            n = (memory or 0) + 1
            qty = Decimal(1) if n < 5 else Decimal(2)
            return [TargetPosition(symbol=SYMBOL, qty=qty)], n

    cfg = parse_config(
        {
            "strategies": [{"name": "grow", "symbols": [SYMBOL], "protect": PROTECT}],
            "venue": {"fee_bps": 0},
            "risk": {"max_position": "0.0025"},  # 2 units of 100 on 100,000 of equity: 0.2%
        }
    )
    result = run_backtest([series(FLAT + FLAT)], [Grow(_Params(), [SYMBOL])], cfg)

    assert [f for f in fills(result) if f[0] == "bn"] == [
        ("bn", "buy", "1", "100"),
        ("bn", "buy", "1", "100"),
    ]
    protective = [mo for mo in result.bot.orders.orders.values() if mo.request.origin == "protect"]
    assert [(mo.status.value, str(mo.request.qty)) for mo in protective] == [
        ("cancelled", "1"),
        ("open", "2"),
    ]


def test_a_paper_or_live_bot_refuses_protection_its_exchange_cannot_hold() -> None:
    from bastion.engine.errors import LiveError
    from bastion.engine.live import build_strategies

    def bot(exchange: str, protect: dict[str, Any]) -> Any:
        entry = {"name": "sma_cross", "symbols": ["BTC/AUD"], "protect": protect}
        return parse_config({"exchange": {"id": exchange}, "strategies": [entry]})

    with pytest.raises(LiveError, match="btcmarkets takes no stop-limit orders"):
        build_strategies(bot("btcmarkets", PROTECT))
    with pytest.raises(LiveError, match="no OCO"):
        build_strategies(bot("btcmarkets", {**PROTECT, "take_profit_pct": "0.05"}))
    assert len(build_strategies(bot("binance", {**PROTECT, "take_profit_pct": "0.05"}))) == 1

"""The cycle as a whole: data gate, flatten-and-halt, multi-strategy tagging."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from tests.engine.conftest import MINUTE, walk

from bastion.config import BotConfig
from bastion.engine.backtest import run_backtest
from bastion.model import AccountSnapshot, BarSeries, OrderType, PlaceOrder, Side
from bastion.model.view import MarketView
from bastion.risk import Flatten, HaltState, RiskReason
from bastion.strategy import Strategy, build_strategy


def test_gap_is_no_data_and_is_journaled(tmp_path):
    s = walk(300)
    keep = np.ones(len(s), dtype=bool)
    keep[100:110] = False  # ten missing minutes
    gapped = BarSeries(
        symbol=s.symbol,
        interval_ms=MINUTE,
        ts=s.ts[keep],
        open=s.open[keep],
        high=s.high[keep],
        low=s.low[keep],
        close=s.close[keep],
        volume=s.volume[keep],
    )
    strat = build_strategy("sma_cross", [s.symbol], {"fast": 5, "slow": 20})

    result = run_backtest([gapped], [strat], BotConfig(), journal_path=tmp_path / "j.sqlite")

    from bastion.observe.journal import read_events

    gaps = list(read_events(tmp_path / "j.sqlite", kinds=["data_gap"]))
    assert len(gaps) == 1
    assert gaps[0]["missing_bars"] == 10
    # No bar was invented for the gap: one equity point per real bar.
    assert len(result.equity) == len(gapped)
    sv = result.bot.gate.view[s.symbol]
    assert sv.gaps == 1
    assert sv.bars == len(gapped)


def test_stale_symbol_takes_no_new_exposure(tmp_path):
    """Two symbols; one stops printing. Buying it is refused as STALE_DATA."""
    a = walk(400, seed=1, symbol="AAA/USDT")
    b_full = walk(400, seed=2, symbol="BBB/USDT")
    b = b_full.slice(0, 100)  # BBB's feed dies after 100 bars
    strat = BuyEveryCycle(BuyEveryCycle.Params(), ["BBB/USDT"])

    result = run_backtest([a, b], [strat], BotConfig(), journal_path=tmp_path / "j.sqlite")

    from bastion.observe.journal import read_events

    decisions = list(read_events(tmp_path / "j.sqlite", kinds=["risk_decision"]))
    stale = [d for d in decisions if d.get("reason") == RiskReason.STALE_DATA.value]
    assert stale, "expected entries on the dead symbol to be refused"
    assert all(d["ts"] > int(b.ts[-1]) + 2 * MINUTE for d in stale)
    # Every fill on BBB happened while its data was fresh.
    for _sid, fill in result.fills:
        assert fill.ts <= int(b.ts[-1]) + MINUTE


@dataclass(frozen=True)
class _BuyParams:
    qty: Decimal = Decimal("0.01")


class BuyEveryCycle(Strategy[_BuyParams, None]):
    """Test strategy: a small market buy on every symbol, every cycle."""

    name = "test_buy_every_cycle"
    Params = _BuyParams

    def initial_memory(self) -> None:
        return None

    def decide(self, view, account, memory):
        return [
            PlaceOrder(symbol=s, side=Side.BUY, qty=self.params.qty, type=OrderType.MARKET)
            for s in self.symbols
        ], None


class _FlattenAfter:
    """Wraps the real gate's watch: orders a flatten at a fixed time."""

    def __init__(self, at: int) -> None:
        self.at = at

    def __call__(self, account: AccountSnapshot, view: MarketView, now: int) -> Flatten | None:
        if now >= self.at and account.positions:
            return Flatten(reason=RiskReason.DAILY_LOSS, details={"test": True})
        return None


def test_flatten_closes_everything_and_halts_in_the_same_cycle(tmp_path):
    s = walk(3000, seed=3)
    strat = build_strategy("sma_cross", [s.symbol], {"fast": 5, "slow": 20, "qty": "1"})
    from bastion.engine import backtest as bt

    real_build = bt.build_bot
    flatten_at = int(s.ts[1500])

    def build(*args, **kwargs):
        bot, venue = real_build(*args, **kwargs)
        bot.risk.watch = _FlattenAfter(flatten_at)  # type: ignore[method-assign]
        return bot, venue

    bt.build_bot = build
    try:
        result = run_backtest([s], [strat], BotConfig(), journal_path=tmp_path / "j.sqlite")
    finally:
        bt.build_bot = real_build

    assert result.bot.risk.latch.state is HaltState.HALTED
    account = result.venue.fetch_account()
    assert account.position(s.symbol) == 0
    assert not account.open_orders
    from bastion.observe.journal import read_events

    kinds = [e["kind"] for e in read_events(tmp_path / "j.sqlite")]
    assert "flatten" in kinds
    # After the halt no order increased exposure: every later buy was refused.
    after = [
        e
        for e in read_events(tmp_path / "j.sqlite", kinds=["order_submitted"])
        if e["ts"] > flatten_at + MINUTE
    ]
    assert all(e["side"] == "sell" for e in after)


def test_two_strategies_two_symbols_tag_everything(tmp_path):
    a = walk(2000, seed=4, symbol="AAA/USDT")
    b = walk(2000, seed=5, symbol="BBB/USDT")
    s1 = build_strategy("sma_cross", ["AAA/USDT"], {"fast": 5, "slow": 20, "qty": "1"})
    s2 = build_strategy("bollinger", ["BBB/USDT"], {"period": 20, "k": "1.5", "qty": "1"})

    result = run_backtest([a, b], [s1, s2], BotConfig(), journal_path=tmp_path / "j.sqlite")

    by_strategy = {sid for sid, _f in result.fills}
    assert by_strategy == {"sma_cross", "bollinger"}
    for sid, fill in result.fills:
        assert fill.symbol == ("AAA/USDT" if sid == "sma_cross" else "BBB/USDT")
    from bastion.observe.journal import read_events

    for ev in read_events(tmp_path / "j.sqlite", kinds=["order_submitted", "fill", "cycle"]):
        sid, _, version = ev["strategy"].partition("@")
        expected = s1.ref.version if sid == "sma_cross" else s2.ref.version
        assert version == expected
    assert result.summary["strategies"] == {
        "sma_cross": s1.ref.version,
        "bollinger": s2.ref.version,
    }


def test_same_inputs_same_journal(tmp_path):
    s = walk(3000, seed=6)

    def run(path):
        strat = build_strategy("quoter", [s.symbol], {"qty": "0.5", "max_inventory": "2"})
        run_backtest([s], [strat], BotConfig(), journal_path=path)
        from bastion.observe.journal import read_events

        return [(e["ts"], e["kind"], e.get("client_id"), e.get("qty")) for e in read_events(path)]

    first = run(tmp_path / "a.sqlite")
    second = run(tmp_path / "b.sqlite")
    assert first == second
    assert any(k == "fill" for _t, k, _c, _q in first)


def test_oversized_target_is_resized_by_risk_not_left_to_the_venue():
    """A strategy asking for far more than the account can pay is cut down by risk."""
    s = walk(500, seed=7)
    strat = build_strategy("sma_cross", [s.symbol], {"fast": 5, "slow": 20, "qty": "100000"})

    result = run_backtest([s], [strat], BotConfig(), journal_path=None)

    decisions = result.summary["risk_decisions"]
    assert decisions["ORDER_SIZE"] > 0
    buys = [f for _sid, f in result.fills if f.side is Side.BUY]
    assert buys
    for f in buys:  # 25% of equity per order by default, equity starting at 100,000
        assert f.qty * f.price <= Decimal(26_000)
    assert result.venue.fetch_account().cash() >= 0

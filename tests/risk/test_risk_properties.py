"""Properties over random intent sequences and price paths, through the real
cycle and the simulated venue:

- an approval never takes a symbol's position, or gross exposure, above its
  limit, and no more exposure-adding orders pass in a rolling minute than the
  rate limits allow;
- a halted bot never increases exposure;
- a daily-loss breach always ends flat and halted in the same cycle.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from risk_backtest import MINUTE, Scripted, bars, build, config, drive, held

from bastion.model import Intent, OrderType, PlaceOrder, Side, TargetPosition
from bastion.model.view import MarketView
from bastion.risk import Flatten, HaltState, RiskReason

A, B = "AAA/USDT", "BBB/USDT"
SYMBOLS = (A, B)
D = Decimal
CYCLES = 40

action = st.tuples(
    st.sampled_from(["target", "buy", "sell", "limit_buy"]),
    st.sampled_from(SYMBOLS),
    st.integers(min_value=0, max_value=6_000),  # tenths of a unit: up to 600 units ≈ 60% equity
    st.integers(min_value=0, max_value=30),  # limit offset below the market, in 0.1%
)
schedule = st.lists(st.lists(action, max_size=3), min_size=CYCLES, max_size=CYCLES)
paths = st.tuples(st.integers(0, 2**31 - 1), st.floats(0.001, 0.03))


def price_series(seed: int, sigma: float, n: int, *, crash: float = 0.0) -> list[Any]:
    rng = np.random.default_rng(seed)
    out = []
    for k, sym in enumerate(SYMBOLS):
        steps = rng.normal(0.0, sigma, n)
        if crash:
            steps[n // 2 : n // 2 + 5] += np.log(1 - crash) / 5
        closes = 100.0 * (1 + k) * np.exp(np.cumsum(steps))
        # A cycle every 10 s, so a rolling minute spans six cycles of orders.
        out.append(bars(closes, symbol=sym, volume=50_000.0, interval_ms=10_000))
    return out


def to_intent(a: tuple[str, str, int, int], view: MarketView) -> Intent:
    kind, sym, tenths, offset = a
    qty = D(tenths) / 10
    if kind == "target":
        return TargetPosition(symbol=sym, qty=qty)
    if kind == "limit_buy":
        price = D(str(round(view[sym].price * (1 - offset / 1000), 2)))
        return PlaceOrder(symbol=sym, side=Side.BUY, qty=qty, type=OrderType.LIMIT, price=price)
    side = Side.BUY if kind == "buy" else Side.SELL
    return PlaceOrder(symbol=sym, side=side, qty=qty, type=OrderType.MARKET)


def scripted(plan: list[list[tuple[str, str, int, int]]]) -> Scripted:
    def script(n: int, view: MarketView, account: Any) -> list[Intent]:
        if n >= len(plan):
            return []
        return [to_intent(a, view) for a in plan[n] if a[2] > 0]

    return Scripted(list(SYMBOLS), script)


LIMITS = {
    "max_position": 0.25,
    "max_gross_exposure": 0.4,
    "max_order": 0.2,
    "rate": {"orders_per_minute": 4, "orders_per_minute_symbol": 3, "runaway_breaches": 1000},
    "loss": {"enabled": False},
}


@settings(max_examples=40, deadline=None)
@given(plan=schedule, path=paths)
def test_approvals_never_exceed_position_gross_or_rate_limits(
    plan: list[list[tuple[str, str, int, int]]], path: tuple[int, float]
) -> None:
    series = price_series(*path, CYCLES)
    run = build(series, [scripted(plan)], config(**LIMITS))

    drive(run, series)

    tol = D("1e-9")
    adds: deque[tuple[int, str]] = deque()
    for r in run.reviews:
        ctx, equity = r.ctx, r.ctx.equity
        grown = {
            d.request.symbol
            for d in r.decisions
            if d.request is not None and not d.request.reduces_exposure
        }
        for sym in grown:
            value = ctx.exposure[sym].worst_abs * ctx.valuation(sym)
            assert value <= D("0.25") * equity * (1 + tol), (sym, value, equity)
        if grown:
            assert ctx.gross() <= D("0.4") * equity * (1 + tol)
        # Orders that only cut exposure are counted by the gate but never refused
        # (a rate limit must not trap a position), so the cap binds the others.
        adds.extend(
            (r.now, d.request.symbol)
            for d in r.decisions
            if d.request is not None and not d.request.reduces_exposure
        )
        while adds and adds[0][0] <= r.now - MINUTE:
            adds.popleft()
        assert len(adds) <= 4
        for sym in SYMBOLS:
            assert sum(1 for _, s in adds if s == sym) <= 3


@settings(max_examples=40, deadline=None)
@given(plan=schedule, path=paths, halt_at=st.integers(5, CYCLES - 5))
def test_a_halted_bot_never_increases_exposure(
    plan: list[list[tuple[str, str, int, int]]], path: tuple[int, float], halt_at: int
) -> None:
    market_only = [[a for a in cycle if a[0] != "limit_buy"] for cycle in plan]
    series = price_series(*path, CYCLES)
    run = build(series, [scripted(market_only)], config(**LIMITS))
    latch = run.bot.risk.latch
    last: dict[str, Decimal] = {}

    def halt(k: int, now: int) -> None:
        if k == halt_at:
            latch.set(HaltState.HALTED, reason="operator", now=now, by="ops")

    def check(k: int, now: int) -> None:
        pos = held(run)
        if k > halt_at:  # market orders approved before the halt filled at bar halt_at
            for sym in SYMBOLS:
                assert abs(pos.get(sym, D(0))) <= abs(last.get(sym, D(0)))
        last.clear()
        last.update(pos)

    drive(run, series, before_cycle=halt, after_bar=check)

    assert latch.state is HaltState.HALTED
    after = [d for r in run.reviews if r.now > series[0].ts[halt_at] for d in r.decisions]
    assert all(d.request is None or d.request.reduces_exposure for d in after)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    crash=st.floats(0.15, 0.5),
    share=st.floats(0.5, 0.9),
    sigma=st.floats(0.0005, 0.005),
)
def test_a_daily_loss_breach_always_ends_flat_and_halted_in_the_same_cycle(
    seed: int, crash: float, share: float, sigma: float
) -> None:
    series = price_series(seed, sigma, CYCLES, crash=crash)

    def hold(n: int, view: MarketView, account: Any) -> list[Intent]:
        return [
            TargetPosition(symbol=s, qty=D(str(round(share * 50_000 / view[s].price, 2))))
            for s in SYMBOLS
        ]

    limits = {"max_position": 0.9, "max_gross_exposure": 1.0, "max_net_exposure": 1.0}
    run = build(series, [Scripted(list(SYMBOLS), hold)], config(max_order=0.9, **limits))
    watch = run.bot.risk.watch
    fired: list[int] = []

    def spy(account: Any, view: MarketView, now: int) -> Flatten | None:
        out = watch(account, view, now)
        if out is not None:
            fired.append(now)
        return out

    run.bot.risk.watch = spy  # type: ignore[method-assign]
    flat_next_bar: list[bool] = []

    def same_cycle(k: int, now: int) -> None:
        if fired and fired[-1] == now:
            assert run.bot.risk.latch.state is HaltState.HALTED
            acct = run.venue.fetch_account()
            for sym, pos in acct.positions.items():
                closing = sum(o.remaining for o in acct.open_orders if o.symbol == sym)
                assert all(o.side is Side.SELL for o in acct.open_orders if o.symbol == sym)
                assert closing == pos.qty  # every unit held is being closed
            assert {o.symbol for o in acct.open_orders} <= set(acct.positions)

    def next_bar(k: int, now: int) -> None:
        if fired and len(flat_next_bar) < len(fired) and fired[-1] < now:
            flat_next_bar.append(all(q == 0 for q in held(run).values()))

    drive(run, series, after_cycle=same_cycle, after_bar=next_bar)

    assert fired, "the crash must trip the daily loss cap"
    first = run.kinds("flatten")[0]
    assert first["reason"] == RiskReason.DAILY_LOSS.value
    assert flat_next_bar and flat_next_bar[0]

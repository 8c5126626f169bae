"""Small factories for risk tests: instruments, views, accounts, requests, contexts.

A fixed clock (``NOW``), prices as floats in the view (as the data gate gives
them), money as Decimal everywhere else.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from bastion.model import (
    AccountSnapshot,
    Balance,
    Instrument,
    OrderReport,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    StrategyRef,
    TimeInForce,
)
from bastion.model.view import MarketView, SymbolView
from bastion.risk import HaltLatch, RiskContext, RiskGate, RiskLimits

NOW = 1_717_200_000_000  # 2024-06-01T00:00:00Z
REF = StrategyRef(id="test", version="1")
D = Decimal


def instrument(symbol: str = "BTC/USDT", **kw: Any) -> Instrument:
    opts: dict[str, Any] = {"lot_size": D("0.001"), "tick_size": D("0.01")}
    opts.update({k: D(str(v)) for k, v in kw.items()})
    return Instrument.spot(symbol, **opts)


def instruments(*symbols: str, **kw: Any) -> dict[str, Instrument]:
    return {s: instrument(s, **kw) for s in symbols}


def symbol_view(
    symbol: str,
    price: float,
    *,
    now: int = NOW,
    volume: float = 1_000.0,
    interval_ms: int = 60_000,
    stale: bool = False,
) -> SymbolView:
    sv = SymbolView(symbol, interval_ms)
    sv.ts = now - interval_ms
    sv.data_ts = now
    sv.open = sv.high = sv.low = sv.close = price
    sv.volume = volume
    sv.bars = 1
    sv.stale = stale
    return sv


def view(prices: Mapping[str, float], *, now: int = NOW, **kw: Any) -> MarketView:
    v = MarketView({s: symbol_view(s, p, now=now, **kw) for s, p in prices.items()})
    v.now = now
    return v


def open_order(
    symbol: str, side: Side, qty: str, price: str | None = None, client_id: str = "w1"
) -> OrderReport:
    return OrderReport(
        client_id=client_id,
        venue_order_id="V" + client_id,
        symbol=symbol,
        side=side,
        type=OrderType.LIMIT if price else OrderType.MARKET,
        qty=D(qty),
        price=D(price) if price else None,
        tif=TimeInForce.GTC,
        status=OrderStatus.OPEN,
    )


def account(
    cash: str = "100000",
    positions: Mapping[str, str] | None = None,
    orders: Iterable[OrderReport] = (),
    *,
    ts: int = NOW,
) -> AccountSnapshot:
    pos = {s: Position(symbol=s, qty=D(q), avg_price=D(0)) for s, q in (positions or {}).items()}
    return AccountSnapshot(
        ts=ts,
        quote_asset="USDT",
        balances=MappingProxyType({"USDT": Balance(asset="USDT", free=D(cash))}),
        positions=MappingProxyType(pos),
        open_orders=tuple(orders),
    )


def req(
    symbol: str = "BTC/USDT",
    side: Side = Side.BUY,
    qty: str = "0.1",
    *,
    price: str | None = None,
    reduces: bool = False,
    client_id: str = "c1",
) -> OrderRequest:
    return OrderRequest(
        client_id=client_id,
        strategy=REF,
        symbol=symbol,
        side=side,
        qty=D(qty),
        type=OrderType.LIMIT if price else OrderType.MARKET,
        price=D(price) if price else None,
        reduces_exposure=reduces,
    )


def context(
    acct: AccountSnapshot | None = None,
    market: MarketView | None = None,
    *,
    insts: Mapping[str, Instrument] | None = None,
    latch: HaltLatch | None = None,
    blocked: frozenset[str] = frozenset(),
    now: int = NOW,
) -> RiskContext:
    market = market if market is not None else view({"BTC/USDT": 50_000.0})
    return RiskContext.build(
        account=acct if acct is not None else account(),
        view=market,
        now=now,
        instruments=insts if insts is not None else instruments(*market),
        latch=latch or HaltLatch(),
        blocked=blocked,
    )


def snapshot(ctx: RiskContext) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """The context's exposure, to assert that a refusal changed nothing."""
    return {s: (e.held, e.buys, e.sells) for s, e in copy.deepcopy(ctx.exposure).items()}


def gate(limits: RiskLimits | None = None, latch: HaltLatch | None = None) -> RiskGate:
    return RiskGate.from_limits(limits or RiskLimits(), latch)

"""Accounting invariants of the simulated venue over random sequences of orders,
cancels and market data (bars, or quotes and trades).

Whatever is submitted, cancelled or refused, and however bars fall:
- quote and base balances equal the initial ones moved by the venue's own
  fills and fees, exactly (Decimal);
- without margin no free balance is ever negative; locked never is;
- with no working order nothing stays locked;
- an order's reported filled quantity is the sum of its fills, never above its
  quantity.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.model import Instrument, OrderRequest, OrderType, Side, StrategyRef, TimeInForce
from bastion.venues import VenueError
from bastion.venues.sim import FixedBps, NoSlippage, SimVenue, VolumeParticipation

D = Decimal
SYM = "BTC/USDT"
T0 = 1_704_067_200_000
MINUTE = 60_000
REF = StrategyRef(id="prop", version="1")
QUOTE0 = D("10000")
BASE0 = D("5")

SLIPPAGES = [NoSlippage(), FixedBps(D(10)), VolumeParticipation(share=D("0.5"))]

cents = st.integers(min_value=9_000, max_value=11_000)  # prices 90.00 .. 110.00
# Round sizes (half or all of the base, most of the cash) make the edges likely.
qty_thousandths = st.one_of(
    st.sampled_from([1, 1_000, 2_500, 3_000, 5_000, 90_000]),
    st.integers(min_value=1, max_value=8_000),
)

bar_action = st.tuples(
    st.just("bar"),
    cents,  # open
    cents,  # close
    st.integers(min_value=0, max_value=300),  # extra above the body, in cents
    st.integers(min_value=0, max_value=300),  # extra below
    st.integers(min_value=0, max_value=500),  # volume in tenths
)
submit_action = st.tuples(
    st.just("submit"),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from([OrderType.MARKET, OrderType.LIMIT]),
    st.sampled_from(list(TimeInForce)),
    qty_thousandths,
    cents,  # limit price
)
cancel_action = st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=30))
quote_action = st.tuples(
    st.just("quote"),
    cents,  # bid
    st.integers(min_value=1, max_value=50),  # spread in cents
    st.integers(min_value=0, max_value=100),  # bid size in tenths
    st.integers(min_value=0, max_value=100),  # ask size in tenths
)
trade_action = st.tuples(st.just("trade"), cents, st.integers(min_value=0, max_value=100))
bar_actions = st.lists(
    st.one_of(bar_action, submit_action, submit_action, cancel_action), min_size=8, max_size=40
)
tick_actions = st.lists(
    st.one_of(bar_action, quote_action, trade_action, submit_action, submit_action, cancel_action),
    min_size=8,
    max_size=40,
)


def check(v: SimVenue, margin: bool) -> None:
    fills = v.fetch_fills()
    acct = v.fetch_account()
    quote = acct.balances["USDT"]
    base = acct.balances["BTC"]
    expected_quote = QUOTE0 - sum((f.signed_qty * f.price + f.fee for f in fills), D(0))
    expected_base = BASE0 + sum((f.signed_qty for f in fills), D(0))
    assert quote.total == expected_quote
    assert base.total == expected_base
    for bal in acct.balances.values():
        assert bal.locked >= 0, bal
        if not margin:
            assert bal.free >= 0, bal
    if not acct.open_orders:
        assert (quote.locked, base.locked) == (D(0), D(0))
    for cid in {f.client_id for f in fills}:
        report = v.fetch_order(SYM, cid)
        assert report is not None
        assert report.filled_qty == sum((f.qty for f in fills if f.client_id == cid), D(0))
        assert report.filled_qty <= report.qty


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    actions=st.one_of(bar_actions, tick_actions),
    slippage=st.sampled_from(SLIPPAGES),
    latency_ms=st.sampled_from([0, 30_000]),
    limit_fill=st.sampled_from(["touch", "through"]),
    margin=st.booleans(),
)
def test_balances_follow_fills_exactly_and_never_go_negative(
    actions: list[tuple[object, ...]],
    slippage: object,
    latency_ms: int,
    limit_fill: str,
    margin: bool,
) -> None:
    inst = Instrument.spot(
        SYM,
        tick_size=D("0.01"),
        lot_size=D("0.001"),
        maker_fee=D("0.0002"),
        taker_fee=D("0.001"),
    )
    v = SimVenue(
        [inst],
        {"USDT": QUOTE0, "BTC": BASE0},
        slippage=slippage,  # type: ignore[arg-type]
        latency_ms=latency_ms,
        limit_fill=limit_fill,  # type: ignore[arg-type]
        margin=margin,
    )
    v.on_bar(SYM, T0, 100.0, 100.5, 99.5, 100.0, 10.0)
    v.set_time(T0 + MINUTE)
    sent: list[str] = []
    i = 1
    for action in actions:
        if action[0] == "bar":
            _, o, c, up, down, vol = action
            lo, hi = min(o, c) - down, max(o, c) + up  # type: ignore[operator]
            v.on_bar(SYM, T0 + i * MINUTE, o / 100, hi / 100, lo / 100, c / 100, vol / 10)  # type: ignore[operator]
            i += 1
            v.set_time(T0 + i * MINUTE)
        elif action[0] == "quote":
            _, bid, spread, bid_qty, ask_qty = action
            ask = bid + spread  # type: ignore[operator]
            v.on_quote(SYM, v.now + 1, bid / 100, ask / 100, bid_qty / 10, ask_qty / 10)  # type: ignore[operator]
        elif action[0] == "trade":
            _, price, qty = action
            v.on_trade(SYM, v.now + 1, price / 100, qty / 10)  # type: ignore[operator]
        elif action[0] == "submit":
            _, side, otype, tif, qty, price = action
            cid = f"c{len(sent)}"
            req = OrderRequest(
                client_id=cid,
                strategy=REF,
                symbol=SYM,
                side=side,  # type: ignore[arg-type]
                qty=D(qty) / 1000,  # type: ignore[arg-type]
                type=otype,  # type: ignore[arg-type]
                price=D(price) / 100 if otype is OrderType.LIMIT else None,  # type: ignore[arg-type]
                tif=tif if otype is OrderType.LIMIT else TimeInForce.GTC,  # type: ignore[arg-type]
            )
            try:
                v.submit(req)
                sent.append(cid)
            except VenueError:
                pass  # refused (funds, duplicate...): the checks below cover "nothing changed"
        else:
            _, k = action
            if sent:
                with contextlib.suppress(VenueError):  # already closed: OrderNotFound
                    v.cancel(SYM, sent[k % len(sent)])  # type: ignore[operator]
        check(v, margin)

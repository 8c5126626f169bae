"""The float screens change no decision.

On random accounts (cash, positions long and short, working orders), prices
(some symbols without data, some without a position's entry price), limits and
batches of requests, a gate that judges clear passes on floats
(``screen=True``, the default) returns exactly the decisions of one that does
every check in Decimal (``screen=False``: the rules' Decimal code, as it was
before the screens): the same verdicts, reasons, rules, resized quantities and
prices, and details. Quantities and prices are drawn on coarse grids so that
orders land exactly on their limits often.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st
from risk_factories import NOW, REF, account, instruments, open_order, view

from bastion.model import OrderRequest, OrderType, Position, Side
from bastion.risk import RiskContext, RiskGate, RiskLimits
from bastion.risk.decisions import Decision, Verdict, approve
from bastion.risk.limits import CorrelationLimits, LossLimits, RateLimits, SanityLimits

D = Decimal
SYMBOLS = ("AAA/USDT", "BBB/USDT", "CCC/USDT", "DDD/USDT")

fractions = st.sampled_from([D("0.05"), D("0.1"), D("0.2"), D("0.25"), D("0.5"), D("1"), D("1.5")])
prices = st.sampled_from([0.5, 1.0, 2.5, 10.0, 100.0, 101.37, 250.0, 0.0])
quantities = st.integers(-40, 40).map(lambda k: D(k) / 4)  # quarter units
order = st.tuples(
    st.sampled_from(SYMBOLS),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(1, 40).map(lambda k: D(k) / 4),
    st.sampled_from([None, D("0.98"), D("1"), D("1.02")]),  # limit price as a share of the mark
)
request = st.tuples(
    st.sampled_from(SYMBOLS),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(1, 400).map(lambda k: D(k) / 8),
    st.sampled_from([None, D("0.97"), D("0.99"), D("1"), D("1.01"), D("1.04")]),
    st.booleans(),  # reduces_exposure
)


Order = tuple[str, Side, Decimal, Decimal | None]
Request = tuple[str, Side, Decimal, Decimal | None, bool]


@dataclass(frozen=True)
class Scenario:
    cash: str
    marks: dict[str, float]
    no_data: frozenset[str]
    positions: dict[str, tuple[Decimal, Decimal]]  # symbol -> (qty, entry price)
    orders: list[Order]
    requests: list[Request]
    limits: RiskLimits


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    marks = {s: draw(prices) for s in SYMBOLS}
    no_data = draw(st.frozensets(st.sampled_from(SYMBOLS), max_size=1))
    positions = {
        s: (q, draw(st.sampled_from([D(0), D("90"), D("100.5")])))
        for s in draw(st.sets(st.sampled_from(SYMBOLS)))
        if (q := draw(quantities))
    }
    return Scenario(
        cash=draw(st.sampled_from(["0", "500", "1000", "2500", "100000"])),
        marks=marks,
        no_data=no_data,
        positions=positions,
        orders=draw(st.lists(order, max_size=4)),
        requests=draw(st.lists(request, min_size=1, max_size=4)),
        limits=RiskLimits(
            max_position=draw(fractions),
            max_gross_exposure=draw(fractions),
            max_net_exposure=draw(fractions),
            max_order=draw(fractions),
            allow_short=draw(st.booleans()),
            rate=RateLimits(orders_per_minute=3, orders_per_minute_symbol=2),
            loss=LossLimits(enabled=False),
            correlation=CorrelationLimits(max_cluster_exposure=draw(fractions)),
            sanity=SanityLimits(max_price_deviation=D("0.03")),
        ),
    )


def _review(s: Scenario, *, screen: bool) -> tuple[list[Decision], RiskContext]:
    marks = s.marks
    market = view({sym: p for sym, p in marks.items() if sym not in s.no_data})
    positions = {
        sym: Position(symbol=sym, qty=q, avg_price=avg) for sym, (q, avg) in s.positions.items()
    }
    working = []
    for k, (sym, side, qty, share) in enumerate(s.orders):
        price = str(round(D(repr(marks[sym] or 1.0)) * share, 2)) if share is not None else None
        working.append(open_order(sym, side, str(qty), price, client_id=f"w{k}"))
    acct = replace(
        account(s.cash), positions=MappingProxyType(positions), open_orders=tuple(working)
    )
    gate = RiskGate.from_limits(s.limits, screen=screen)
    gate.watch(acct, market, NOW)
    reqs = []
    for k, (sym, side, qty, share, reduces) in enumerate(s.requests):
        price = None if share is None else round(D(repr(marks[sym] or 1.0)) * share, 3)
        reqs.append(
            OrderRequest(
                client_id=f"c{k}",
                strategy=REF,
                symbol=sym,
                side=side,
                qty=qty,
                type=OrderType.MARKET if price is None else OrderType.LIMIT,
                price=price,
                reduces_exposure=reduces,
            )
        )
    ctx = RiskContext.build(
        account=acct,
        view=market,
        now=NOW,
        instruments=instruments(*SYMBOLS),
        latch=gate.latch,
    )
    return gate.review(reqs, ctx), ctx


@settings(max_examples=600, deadline=None)
@given(s=scenarios())
def test_screened_review_decides_exactly_as_the_decimal_review(s: Scenario) -> None:
    fast, fast_ctx = _review(s, screen=True)
    exact, exact_ctx = _review(s, screen=False)

    assert fast == exact
    assert fast_ctx.equity == exact_ctx.equity
    assert fast_ctx.totals() == exact_ctx.totals()


def test_a_clear_pass_is_judged_without_decimal_equity_or_totals() -> None:
    s = Scenario(
        cash="100000",
        marks=dict.fromkeys(SYMBOLS, 100.0),
        no_data=frozenset(),
        positions={SYMBOLS[0]: (D(10), D(90))},
        orders=[(SYMBOLS[1], Side.BUY, D(1), D("0.98"))],
        requests=[(SYMBOLS[2], Side.BUY, D(1), None, False)],
        limits=RiskLimits(),
    )

    (decision,), ctx = _review(s, screen=True)

    assert decision.verdict is Verdict.APPROVE
    assert ctx._equity is None and ctx._totals is None  # the screens answered
    (exact,), exact_ctx = _review(s, screen=False)
    assert exact == decision and exact_ctx._equity is not None


def test_approve_builds_the_same_decision_as_the_dataclass() -> None:
    req = OrderRequest(client_id="c", strategy=REF, symbol="A", side=Side.BUY, qty=D(1))
    assert approve(req) == Decision(verdict=Verdict.APPROVE, original=req, request=req)

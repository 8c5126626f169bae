"""The venue contract over the real ccxt binance class, through ``CcxtVenue``.

Only the client's URLs point elsewhere (the emulator on loopback); nothing in
ccxt is patched. The error table at the bottom is the contract that matters
for safety: each reply the emulator can send (as Binance sends it) must reach
bastion as the right ccxt exception, then the right bastion error, then the
right execution outcome: *definitely failed* (nothing was placed; maybe retry)
or *unknown* (maybe placed; never re-send, look it up by client id).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ccxt
import pytest
from live_support import (
    SYMBOL,
    admin,
    make_venue,
    start_emulator,
    wait_for,
)

from bastion.emulator import EmulatorConfig
from bastion.execution.outcomes import Outcome, classify
from bastion.model import OrderRequest, OrderStatus, OrderType, Side, StrategyRef, TimeInForce
from bastion.venues import errors as e
from bastion.venues.ccxt import CcxtVenue, Credentials
from bastion.venues.port import FillReceived, OrderUpdated

REF = StrategyRef(id="contract", version="1")
FUNDS = {"USDT": Decimal(100_000)}
TESTNET_KEY, TESTNET_SECRET = "BASTION_TESTNET_KEY", "BASTION_TESTNET_SECRET"


@dataclass
class Market:
    """One exchange under contract: the emulator, or Binance's spot test network."""

    where: str
    venue: CcxtVenue
    bid: Decimal
    ask: Decimal
    qty: Decimal  # a small order that passes the minimums
    run: str  # prefix that makes client ids unique on an exchange that remembers them
    accepted: Callable[[str], int]  # orders the exchange accepted under a client id

    def cid(self, name: str) -> str:
        return f"{self.run}{name}"

    def below(self, k: str) -> str:
        """A price ``k`` below the bid, on the tick: rests, never fills."""
        tick = self.venue.instruments()[SYMBOL].tick_size
        return str((self.bid * Decimal(k)).quantize(tick))

    def above(self, k: str) -> str:
        tick = self.venue.instruments()[SYMBOL].tick_size
        return str((self.ask * Decimal(k)).quantize(tick))


def order(
    cid: str,
    qty: str | Decimal = "0.01",
    *,
    side: Side = Side.BUY,
    price: str | None = None,
    tif: TimeInForce = TimeInForce.GTC,
) -> OrderRequest:
    return OrderRequest(
        client_id=cid,
        strategy=REF,
        symbol=SYMBOL,
        side=side,
        qty=Decimal(qty),
        type=OrderType.MARKET if price is None else OrderType.LIMIT,
        price=None if price is None else Decimal(price),
        tif=tif,
    )


def _quote(emu: Any, bid: str = "60000.00", ask: str = "60000.01") -> None:
    admin(
        emu,
        "/market/quote",
        {"symbol": SYMBOL, "bid": bid, "ask": ask, "bid_qty": "5", "ask_qty": "5"},
    )


@contextlib.contextmanager
def emulator_market(**venue_kw: Any) -> Iterator[Market]:
    thread, emu = start_emulator(EmulatorConfig(source="none", balances=FUNDS))
    venue = make_venue(emu, **venue_kw)
    _quote(emu)
    try:
        yield _with_emu(emu, Market(
            "emulator", venue, Decimal("60000.00"), Decimal("60000.01"), Decimal("0.01"), "bn",
            lambda cid: sum(
                r["outcome"] == "accepted"
                for r in admin(emu, f"/orders?clientOrderId={cid}")["orders"]
            ),
        ))  # fmt: skip
    finally:
        venue.close()
        thread.stop()


def _with_emu(emu: Any, m: Market) -> Market:
    m.emu = emu  # type: ignore[attr-defined]
    return m


def sandbox_credentials() -> Credentials:
    key, secret = os.environ.get(TESTNET_KEY), os.environ.get(TESTNET_SECRET)
    if not key or not secret:
        pytest.skip(f"{TESTNET_KEY} and {TESTNET_SECRET} are not set: no testnet run")
    return Credentials(key, secret)


@contextlib.contextmanager
def sandbox_market(credentials: Credentials | None = None) -> Iterator[Market]:
    """Binance spot testnet through the same venue class (``set_sandbox_mode``)."""
    creds = credentials or sandbox_credentials()
    venue = CcxtVenue("binance", [SYMBOL], credentials=creds, sandbox=True, call_timeout_s=10.0)
    venue.start()
    public = ccxt.binance({"options": {"fetchMarkets": {"types": ["spot"]}}})
    public.set_sandbox_mode(True)
    ticker = public.fetch_ticker(SYMBOL)
    run = f"bnT{time.time_ns() // 1_000_000 % 10**9:x}"

    def accepted(cid: str) -> int:
        return int(venue.fetch_order(SYMBOL, cid) is not None)

    try:
        yield Market(
            "testnet", venue, Decimal(str(ticker["bid"])), Decimal(str(ticker["ask"])),
            Decimal("0.001"), run, accepted,
        )  # fmt: skip
    finally:
        for o in venue.fetch_open_orders(SYMBOL):
            if o.client_id.startswith(run):
                with contextlib.suppress(e.VenueError):
                    venue.cancel(SYMBOL, o.client_id)
        venue.close()


@pytest.fixture(params=["emulator", pytest.param("testnet", marks=pytest.mark.testnet)])
def market(request) -> Iterator[Market]:
    factory = emulator_market if request.param == "emulator" else sandbox_market
    with factory() as m:
        yield m


# --------------------------------------------------------------- happy path
def test_load_markets_gives_the_exchange_filters_as_instruments(market) -> None:
    inst = market.venue.instruments()[SYMBOL]

    assert (inst.base, inst.quote) == ("BTC", "USDT")
    assert inst.tick_size > 0 and inst.lot_size > 0 and inst.min_notional > 0
    if market.where == "emulator":
        assert inst.tick_size == Decimal("0.01") and inst.lot_size == Decimal("0.00001")
        assert inst.min_notional == Decimal(5)
    assert market.venue.schema_drift is None


def test_submit_fetch_and_cancel_by_client_id(market) -> None:
    venue, cid, price = market.venue, market.cid("C1"), market.below("0.9")

    placed = venue.submit(order(cid, market.qty, price=price))
    fetched = venue.fetch_order(SYMBOL, cid)
    cancelled = venue.cancel(SYMBOL, cid)
    after = venue.fetch_order(SYMBOL, cid)

    assert placed.client_id == cid and placed.status is OrderStatus.OPEN
    assert placed.price == Decimal(price) and placed.qty == market.qty
    assert fetched is not None and fetched.venue_order_id == placed.venue_order_id
    assert cancelled.status is OrderStatus.CANCELLED
    assert after is not None and after.status is OrderStatus.CANCELLED
    assert venue.fetch_order(SYMBOL, market.cid("never-sent")) is None
    assert cid not in {o.client_id for o in venue.fetch_open_orders(SYMBOL)}
    assert market.accepted(cid) == 1
    assert venue.schema_drift is None


def test_fills_arrive_as_events_once_with_our_client_id(market) -> None:
    venue, cid = market.venue, market.cid("F1")
    before = venue.fetch_account().position(SYMBOL)

    report = venue.submit(order(cid, market.qty))
    events = wait_for(
        lambda: [ev for ev in venue.drain_events() if isinstance(ev, FillReceived)], timeout=5
    )
    time.sleep(0.5)  # the user stream's copy of the same execution arrives too
    again = [ev for ev in venue.drain_events() if isinstance(ev, FillReceived)]

    assert report.status is OrderStatus.FILLED
    assert sum(ev.fill.qty for ev in events) == market.qty and again == []
    fill = events[0].fill
    assert fill.client_id == cid and fill.symbol == SYMBOL and fill.side is Side.BUY
    assert fill.price > 0 and fill.fee >= 0 and fill.liquidity.value == "taker"
    assert fill.ts >= report.ts  # a fill never precedes its order
    if market.where == "emulator":
        assert fill.price == market.ask and fill.fee > 0 and fill.fee_asset == "USDT"
    assert venue.fetch_account().position(SYMBOL) == before + market.qty
    assert fill.trade_id in {f.trade_id for f in venue.fetch_fills(symbol=SYMBOL)}
    assert venue.schema_drift is None
    venue.submit(order(market.cid("F2"), market.qty, side=Side.SELL))  # leave as found


def test_a_resting_order_filled_later_reaches_us_on_the_user_stream() -> None:
    # Emulator only: the market is moved by hand, so the fill can come from
    # nowhere but the private stream (no order reply carries it).
    with emulator_market() as m:
        venue, cid = m.venue, m.cid("S1")
        placed = venue.submit(order(cid, m.qty, price="59990.00"))
        venue.drain_events()

        admin(m.emu, "/market/quote", {"symbol": SYMBOL, "bid": "59980.00", "ask": "59985.00"})
        fills = wait_for(
            lambda: [ev.fill for ev in venue.drain_events() if isinstance(ev, FillReceived)],
            timeout=5,
        )

        assert placed.status is OrderStatus.OPEN
        assert [(f.client_id, f.qty, f.side) for f in fills] == [(cid, m.qty, Side.BUY)]
        assert fills[0].price <= Decimal("59990.00")
        assert venue.fetch_order(SYMBOL, cid).status is OrderStatus.FILLED


def test_order_updates_arrive_on_the_user_stream(market) -> None:
    venue, cid = market.venue, market.cid("U1")

    venue.submit(order(cid, market.qty, price=market.below("0.9")))
    venue.cancel(SYMBOL, cid)
    seen: list[OrderStatus] = []

    def statuses() -> bool:
        seen.extend(
            ev.report.status
            for ev in venue.drain_events()
            if isinstance(ev, OrderUpdated) and ev.report.client_id == cid
        )
        return OrderStatus.CANCELLED in seen

    assert wait_for(statuses, timeout=5), seen
    # The stream tells of the cancel. Its "open" may arrive after the cancel's
    # REST reply, and the venue then drops it as stale (under load it does), so
    # "open" is allowed but not required, and never after "cancelled".
    assert seen[-1] is OrderStatus.CANCELLED
    assert seen in ([OrderStatus.CANCELLED], [OrderStatus.OPEN, OrderStatus.CANCELLED]), seen


# ---------------------------------------------------------------- error table
Call = Callable[[CcxtVenue, Market], Any]


@dataclass(frozen=True)
class Reply:
    """One error reply: how to provoke it, and what it must become at each layer."""

    faults: tuple[dict[str, Any], ...]  # set through the emulator's admin API
    call: Call
    ccxt_error: type[Exception] | None  # None: raised by bastion's own schema check
    bastion_error: type[e.VenueError]
    outcome: Outcome
    accepted: int  # orders the exchange accepted under the client id "E1"
    venue_kw: dict[str, Any] = field(default_factory=dict)
    before: Call | None = None
    real: bool = False  # provoked without faults: also checked against the testnet


ORDER_PATH = {"path": "/api/v3/order", "method": "POST"}


def _submit(venue: CcxtVenue, m: Market) -> Any:
    return venue.submit(order(m.cid("E1"), m.qty))


def _resting(venue: CcxtVenue, m: Market) -> Any:
    return venue.submit(order(m.cid("E1"), m.qty, price=m.below("0.9")))


def _revoke_keys(venue: CcxtVenue, m: Market) -> None:
    venue.fetch_account()  # one good private call first: then ccxt reads -2015 as a ban
    m.emu.config.api_keys.clear()  # type: ignore[attr-defined]


REPLIES: dict[str, Reply] = {
    "insufficient balance (-2010)": Reply(
        # A limit buy (a market one this size would trip MARKET_LOT_SIZE on Binance first).
        (), lambda v, m: v.submit(order(m.cid("E1"), "100", price=m.below("0.9"))),
        ccxt.InsufficientFunds, e.InsufficientFunds, Outcome.FAILED, 0, real=True,
    ),
    "post-only would take (-2010)": Reply(
        (), lambda v, m: v.submit(
            order(m.cid("E1"), m.qty, price=m.above("1.01"), tif=TimeInForce.POST_ONLY)
        ),
        ccxt.OrderImmediatelyFillable, e.InvalidOrder, Outcome.FAILED, 0, real=True,
    ),
    "notional filter (-1013)": Reply(
        (), lambda v, m: v.submit(order(m.cid("E1"), "0.00001", price=m.below("0.9"))),
        ccxt.BadRequest, e.InvalidOrder, Outcome.FAILED, 0, real=True,
    ),
    # Binance refuses a client id only while an order under it is open.
    "duplicate client id (-2010)": Reply(
        (), _resting, ccxt.InvalidOrder, e.DuplicateClientId, Outcome.LANDED, 1,
        before=_resting, real=True,
    ),
    "cancel of an unknown order (-2011)": Reply(
        (), lambda v, m: v.cancel(SYMBOL, m.cid("E1")), ccxt.OrderNotFound, e.OrderNotFound,
        Outcome.UNKNOWN, 0, real=True,
    ),
    "bad signature (-1022)": Reply(
        (), _submit, ccxt.AuthenticationError, e.AuthenticationError, Outcome.FAILED, 0,
        venue_kw={"secret": "wrong-secret"}, real=True,
    ),
    "unknown API key (-2015)": Reply(
        (), _submit, ccxt.AuthenticationError, e.AuthenticationError, Outcome.FAILED, 0,
        venue_kw={"api_key": "unknown-key"}, real=True,
    ),
    "key revoked mid-session (-2015, ccxt says DDoSProtection)": Reply(
        (), _submit, ccxt.DDoSProtection, e.AuthenticationError, Outcome.FAILED, 0,
        before=_revoke_keys,
    ),
    "clock skew beyond recvWindow (-1021)": Reply(
        ({"kind": "clock_skew", "ms": 20_000},), _submit,
        ccxt.InvalidNonce, e.TimestampRejected, Outcome.FAILED_TRANSIENT, 0,
    ),
    "429 too much weight (-1003)": Reply(
        ({"kind": "rate_limit", "count": 1, "retry_after_s": 7, **ORDER_PATH},), _submit,
        ccxt.DDoSProtection, e.RateLimited, Outcome.FAILED_TRANSIENT, 0,
    ),
    "418 IP banned (-1003)": Reply(
        ({"kind": "ban", "count": 1, "retry_after_s": 1, **ORDER_PATH},), _submit,
        ccxt.DDoSProtection, e.RateLimited, Outcome.FAILED_TRANSIENT, 0,
    ),
    "503 from the load balancer (HTML)": Reply(
        ({"kind": "http_error", "status": 503, "count": 1, **ORDER_PATH},), _submit,
        ccxt.ExchangeNotAvailable, e.VenueUnavailable, Outcome.UNKNOWN, 0,
    ),
    "500 (HTML)": Reply(
        ({"kind": "http_error", "status": 500, "count": 1, **ORDER_PATH},), _submit,
        ccxt.ExchangeNotAvailable, e.VenueUnavailable, Outcome.UNKNOWN, 0,
    ),
    "504 gateway timeout": Reply(
        ({"kind": "http_error", "status": 504, "count": 1, **ORDER_PATH},), _submit,
        ccxt.RequestTimeout, e.VenueTimeout, Outcome.UNKNOWN, 0,
    ),
    "silence before accept": Reply(
        ({"kind": "timeout_before_accept", "count": 1, "hang_s": 3, **ORDER_PATH},), _submit,
        ccxt.RequestTimeout, e.VenueTimeout, Outcome.UNKNOWN, 0,
        venue_kw={"call_timeout_s": 0.4},
    ),
    "socket dropped before accept": Reply(
        ({"kind": "timeout_before_accept", "count": 1, "mode": "drop", **ORDER_PATH},), _submit,
        ccxt.ExchangeNotAvailable, e.VenueUnavailable, Outcome.UNKNOWN, 0,
    ),
    "silence after accept": Reply(
        ({"kind": "timeout_after_accept", "count": 1, "hang_s": 3, **ORDER_PATH},), _submit,
        ccxt.RequestTimeout, e.VenueTimeout, Outcome.UNKNOWN, 1,
        venue_kw={"call_timeout_s": 0.4},
    ),
    "socket dropped after accept": Reply(
        ({"kind": "timeout_after_accept", "count": 1, "mode": "drop", **ORDER_PATH},), _submit,
        ccxt.ExchangeNotAvailable, e.VenueUnavailable, Outcome.UNKNOWN, 1,
    ),
    "schema drift in the order reply": Reply(
        ({"kind": "schema_drift", "count": 1, "drop_fields": ["status"], **ORDER_PATH},),
        _submit, None, e.SchemaDrift, Outcome.UNKNOWN, 1,
    ),
}  # fmt: skip


@contextlib.contextmanager
def _market_for(where: str, reply: Reply) -> Iterator[Market]:
    kw = dict(reply.venue_kw)
    key, secret = kw.pop("api_key", None), kw.pop("secret", None)
    if where == "testnet":
        real = sandbox_credentials()
        creds = Credentials(key or real.api_key, secret or real.secret)
        with sandbox_market(creds) as m:
            yield m
        return
    thread, emu = start_emulator(EmulatorConfig(source="none", balances=FUNDS))
    venue = CcxtVenue(
        "binance", [SYMBOL],
        credentials=Credentials(key or "bastion-emulator-key", secret or "bastion-emulator-secret"),
        base_url=emu.url, ws_url=emu.ws_url, rate_limit=False, private_stream=False,
        call_timeout_s=kw.pop("call_timeout_s", 1.0),
    )  # fmt: skip
    try:
        venue.start()
        _quote(emu)
        m = Market(
            "emulator", venue, Decimal("60000.00"), Decimal("60000.01"), Decimal("0.01"), "bn",
            lambda cid: sum(
                r["outcome"] == "accepted"
                for r in admin(emu, f"/orders?clientOrderId={cid}")["orders"]
            ),
        )  # fmt: skip
        m.emu = emu  # type: ignore[attr-defined]
        yield m
    finally:
        admin(emu, "/faults", method="DELETE")
        venue.close()
        thread.stop()


CASES = [pytest.param("emulator", name, id=name) for name in REPLIES] + [
    pytest.param("testnet", name, id=f"testnet: {name}", marks=pytest.mark.testnet)
    for name, reply in REPLIES.items()
    if reply.real
]


@pytest.mark.parametrize(("where", "name"), CASES)
def test_error_reply_maps_to_ccxt_then_bastion_then_outcome(where: str, name: str) -> None:
    reply = REPLIES[name]
    with _market_for(where, reply) as m:
        venue = m.venue
        if reply.before is not None:
            reply.before(venue, m)
        if reply.faults:
            admin(m.emu, "/faults", list(reply.faults))  # type: ignore[attr-defined]

        with pytest.raises(e.VenueError) as info:
            reply.call(venue, m)

        err = info.value
        assert type(err) is reply.bastion_error, repr(err)
        if reply.ccxt_error is None:
            assert err.__cause__ is None
        else:
            assert isinstance(err.__cause__, reply.ccxt_error), repr(err.__cause__)
        assert classify(err) is reply.outcome
        if "api_key" not in reply.venue_kw and "secret" not in reply.venue_kw:
            assert m.accepted(m.cid("E1")) == reply.accepted
        if isinstance(err, e.RateLimited) and name.startswith("429"):
            assert err.retry_after_s == 7  # Retry-After reaches the backoff
        if isinstance(err, e.SchemaDrift):
            assert venue.schema_drift is not None and "status" in venue.schema_drift
        else:
            assert venue.schema_drift is None

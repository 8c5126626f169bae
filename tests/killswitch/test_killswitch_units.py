"""The kill's pieces without an exchange: the flag file, the flatten loop
against a scripted fake venue (unknown outcomes, dust, refusals), and the
bot's side of the flag (``halt_if_killed``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

from bastion.engine.session import halt_if_killed
from bastion.killswitch.flatten import flatten
from bastion.killswitch.venueset import VenueSet
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
    TimeInForce,
)
from bastion.risk.latch import HaltLatch, HaltState
from bastion.state.killflag import clear_flag, read_flag, write_flag
from bastion.state.store import LatchRow, StateStore
from bastion.venues.errors import InvalidOrder, VenueTimeout, VenueUnavailable

BTC = Instrument.spot(
    "BTC/USDT", lot_size=Decimal("0.001"), min_qty=Decimal("0.001"), min_notional=Decimal(5)
)


@dataclass
class FakeVenue:
    """One symbol. ``submit_faults``: errors raised by the next submits; a
    ``VenueTimeout`` is raised *after* the order is applied (it landed)."""

    qty: Decimal
    orders: list[OrderReport] = field(default_factory=list)
    submit_faults: list[Exception] = field(default_factory=list)
    down: bool = False  # every read fails
    rest_closes: bool = False  # closes rest unfilled, missing from the open-orders listing
    sent: list[OrderRequest] = field(default_factory=list)
    known: dict[str, OrderReport] = field(default_factory=dict)
    lookups: int = 0

    def instruments(self):
        return MappingProxyType({"BTC/USDT": BTC})

    def fetch_account(self) -> AccountSnapshot:
        if self.down:
            raise VenueUnavailable("503 Service Unavailable")
        return AccountSnapshot(
            ts=1,
            quote_asset="USDT",
            balances=MappingProxyType({"BTC": Balance(asset="BTC", free=self.qty)}),
            positions=MappingProxyType(
                {"BTC/USDT": Position(symbol="BTC/USDT", qty=self.qty)} if self.qty else {}
            ),
            open_orders=tuple(self.orders),
        )

    def cancel(self, symbol: str, client_id: str) -> OrderReport:
        self.orders = [o for o in self.orders if o.client_id != client_id]
        resting = self.known.get(client_id)
        if resting is not None and resting.status is OrderStatus.OPEN:  # its reserve comes back
            self.qty += resting.qty
            self.known[client_id] = _report(client_id, resting.qty, OrderStatus.CANCELLED)
        return _report(client_id, Decimal(1), OrderStatus.CANCELLED)

    def submit(self, r: OrderRequest) -> OrderReport:
        self.sent.append(r)
        fault = self.submit_faults.pop(0) if self.submit_faults else None
        if isinstance(fault, InvalidOrder):
            raise fault
        if self.rest_closes:  # the balance is reserved, the read shows it free of BTC
            self.qty -= r.qty
            self.known[r.client_id] = _report(r.client_id, r.qty, OrderStatus.OPEN)
            return self.known[r.client_id]
        self.qty -= r.qty if r.side is Side.SELL else -r.qty
        self.known[r.client_id] = _report(r.client_id, r.qty, OrderStatus.FILLED)
        if fault is not None:
            raise fault  # it landed, but the answer was lost
        return self.known[r.client_id]

    def fetch_order(self, symbol: str, client_id: str) -> OrderReport | None:
        self.lookups += 1
        return self.known.get(client_id)


def _report(cid: str, qty: Decimal, status: OrderStatus) -> OrderReport:
    return OrderReport(
        client_id=cid, venue_order_id=cid, symbol="BTC/USDT", side=Side.SELL,
        type=OrderType.MARKET, qty=qty, price=None, tif=TimeInForce.GTC, status=status,
        filled_qty=qty if status is OrderStatus.FILLED else Decimal(0),
    )  # fmt: skip


def _run(venue: FakeVenue, deadline_s: float = 2.0):
    venues = VenueSet(["BTC/USDT"], lambda s: venue)  # type: ignore[arg-type, return-value]
    try:
        return flatten(venues, deadline_s=deadline_s, sleep=lambda s: None)
    finally:
        venues.close()


def test_flag_roundtrip_hand_written_flag_and_clear(tmp_path: Path):
    write_flag(tmp_path, reason="fat finger", ts=42, by="ops")
    flag = read_flag(tmp_path)
    assert flag is not None and (flag.reason, flag.ts, flag.by) == ("fat finger", 42, "ops")
    (tmp_path / "KILLED").write_text("stop now\n")
    assert read_flag(tmp_path).reason == "stop now"  # type: ignore[union-attr]
    assert clear_flag(tmp_path) and read_flag(tmp_path) is None and not clear_flag(tmp_path)


def test_cancels_first_then_closes_from_a_fresh_read():
    resting = _report("bn1", Decimal("0.5"), OrderStatus.OPEN)
    venue = FakeVenue(qty=Decimal("1.2345"), orders=[resting])

    result = _run(venue)

    assert result.flat and result.cancelled == ["BTC/USDT bn1"]
    assert [r.qty for r in venue.sent] == [Decimal("1.234")]
    assert all(r.client_id.startswith("ks") and r.reduces_exposure for r in venue.sent)
    assert "BTC/USDT" in result.dust  # 0.0005 is below the lot: reported, not sent
    assert venue.qty == Decimal("0.0005")


def test_a_close_of_unknown_outcome_is_looked_up_not_sent_again():
    venue = FakeVenue(qty=Decimal(2), submit_faults=[VenueTimeout("no answer")])

    result = _run(venue)

    assert result.flat
    assert len(venue.sent) == 1 and venue.lookups == 1  # found filled: nothing resent
    assert venue.qty == 0
    assert result.closes[0]["status"] == "filled"


def test_a_refused_close_is_not_retried_and_the_kill_is_not_flat():
    refusal = InvalidOrder("Filter failure: MARKET_LOT_SIZE")
    venue = FakeVenue(qty=Decimal(2), submit_faults=[refusal])

    result = _run(venue, deadline_s=5.0)

    assert not result.flat  # 2 BTC remain: that is not dust
    assert len(venue.sent) == 1
    assert result.remaining_positions == {"BTC/USDT": "2"}
    assert "MARKET_LOT_SIZE" in result.refused["BTC/USDT"] and not result.dust
    assert result.rounds <= 3  # nothing more it may do: it stops, it does not poll to the end


def test_a_close_resting_unlisted_is_looked_up_and_the_kill_is_not_flat():
    venue = FakeVenue(qty=Decimal(2), rest_closes=True)

    result = _run(venue, deadline_s=0.5)

    assert not result.flat  # every close rests: nothing was sold
    assert venue.lookups >= 1 and result.cancelled  # found working by id, and cancelled
    assert all(c["status"] != "filled" for c in result.closes)


def test_an_unreadable_exchange_is_never_taken_for_flat():
    venue = FakeVenue(qty=Decimal(0), down=True)

    result = _run(venue, deadline_s=0.3)

    assert not result.flat and venue.sent == []
    assert any("503" in e for e in result.errors)


def test_bot_halts_from_the_flag_and_a_later_resume_supersedes_it(tmp_path: Path):
    events: list[tuple[str, dict]] = []
    journal = lambda kind, ts, payload: events.append((kind, payload))  # noqa: E731
    with StateStore(tmp_path) as store:
        latch = HaltLatch()
        latch.subscribe(lambda changed, prev: store.save_latch(changed, previous=prev.value))
        assert not halt_if_killed(latch, store, tmp_path, journal, now=100)

        write_flag(tmp_path, reason="KILL: test", ts=200, by="killswitch")
        assert halt_if_killed(latch, store, tmp_path, journal, now=300)
        assert latch.state is HaltState.HALTED and latch.reason == "KILL: test"
        assert store.load_latch().state == "HALTED"  # type: ignore[union-attr]
        assert events[-1][0] == "kill_flag"

        store.save_latch(LatchRow(state="ACTIVE", reason="checked", since_ts=400, by="ops"))
        assert not halt_if_killed(latch, store, tmp_path, journal, now=500)
        assert read_flag(tmp_path) is None and events[-1][0] == "kill_flag_cleared"


def test_own_holdings_count_a_working_orders_fill_the_bot_has_not_recorded(tmp_path):
    """A buy the exchange filled while the bot had not heard yet is the bot's: the
    kill looks each working order up by client id and closes that fill too."""
    from decimal import Decimal

    from bastion.killswitch.share import own_holdings
    from bastion.model import OrderRequest, OrderStatus, OrderType, Side
    from bastion.model.orders import StrategyRef
    from bastion.state.orders import OrderStore

    store = OrderStore(tmp_path / "state.sqlite")
    req = OrderRequest(
        client_id="bnabcdefgh1-2-0-0", strategy=StrategyRef(id="s", version="1"),
        symbol="BTC/USDT", side=Side.BUY, qty=Decimal("0.3"), type=OrderType.LIMIT,
        price=Decimal(60000),
    )  # fmt: skip
    store.save_order(req, OrderStatus.OPEN, 1)
    store.close()
    bases = {"BTC/USDT": "BTC"}

    seen = own_holdings(tmp_path, bases, lambda pairs: [Decimal("0.2")] * len(pairs))
    unseen = own_holdings(tmp_path, bases, lambda pairs: [None] * len(pairs))
    assert seen == {"BTC/USDT": Decimal("0.2")}
    assert unseen == {"BTC/USDT": Decimal(0)}
    assert own_holdings(tmp_path / "nobot", bases, lambda p: []) is None


def test_own_holdings_deep_counts_the_fills_of_an_order_that_ended_unrecorded(tmp_path):
    """Found by the SIGSTOP trials: a market sell's reply said "expired, 0.25
    filled" and the bot froze before recording the fill. The order is terminal,
    so the kill's rounds do not look it up, and the records own 0.25 too much;
    the deep look (made only when records and account disagree) finds it."""
    from decimal import Decimal

    from bastion.killswitch.share import own_holdings
    from bastion.model import Fill, Liquidity, OrderRequest, OrderStatus, OrderType, Side
    from bastion.model.orders import StrategyRef
    from bastion.state.orders import OrderStore

    store = OrderStore(tmp_path / "state.sqlite")
    ref = StrategyRef(id="s", version="1")
    buy = OrderRequest(client_id="bnabcdefgh1-1-0-0", strategy=ref, symbol="BTC/USDT",
                       side=Side.BUY, qty=Decimal(1), type=OrderType.MARKET)  # fmt: skip
    sell = OrderRequest(client_id="bnabcdefgh1-2-0-0", strategy=ref, symbol="BTC/USDT",
                        side=Side.SELL, qty=Decimal("0.5"), type=OrderType.MARKET)  # fmt: skip
    store.save_order(buy, OrderStatus.FILLED, 1)
    store.update_order(buy.client_id, status=OrderStatus.FILLED, filled=Decimal(1),
                       venue_id="1", reason="", ts=1)  # fmt: skip
    store.record_fill(
        Fill(trade_id="T1", client_id=buy.client_id, venue_order_id="1", symbol="BTC/USDT",
             side=Side.BUY, qty=Decimal(1), price=Decimal(60000), fee=Decimal(0),
             fee_asset="USDT", liquidity=Liquidity.TAKER, ts=1)
    )  # fmt: skip
    store.save_order(sell, OrderStatus.CANCELLED, 2)
    store.close()
    bases = {"BTC/USDT": "BTC"}
    asked: list[list[tuple[str, str]]] = []

    def lookup(pairs):
        asked.append(pairs)
        return [Decimal("0.25") if cid == sell.client_id else None for _s, cid in pairs]

    assert own_holdings(tmp_path, bases, lookup) == {"BTC/USDT": Decimal(1)}  # found: too much
    assert asked == []  # nothing working: nothing looked up in a sizing round
    assert own_holdings(tmp_path, bases, lookup, deep=True) == {"BTC/USDT": Decimal("0.75")}
    assert [cid for _s, cid in asked[-1]] == [sell.client_id]

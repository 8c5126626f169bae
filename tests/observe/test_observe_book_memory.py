"""The live book over months: its "today" and "7d" windows are quarter-hour
sums, so what it holds does not grow with the number of fills.

Before, the book kept every fill and every closed trip of the last eight days
to sum them again on each refresh: a bot filling every few seconds held
hundreds of thousands of them (and the soak's bot grew with every fill). The
windows are checked against a reference written here from all the fills."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.model.orders import Fill, Liquidity, Side
from bastion.observe.book import KEEP_MS, RECENT, LiveBook
from bastion.observe.metrics import BookCollector
from bastion.observe.trades import round_trips
from bastion.observe.windowed import BUCKET_MS

DAY = 86_400_000
T0 = 1_780_000_000_000 - 1_780_000_000_000 % DAY  # a UTC midnight


def event(seq: int, ts: int, sid: str, sym: str, side: str, qty: str, price: str, fee: str):
    return {"seq": seq, "ts": ts, "kind": "fill", "trade_id": f"t{seq}", "client_id": f"c{seq}",
            "strategy": f"{sid}@1", "symbol": sym, "side": side, "qty": qty, "price": price,
            "fee": fee}  # fmt: skip


def as_fill(e: dict) -> tuple[str, Fill]:
    return e["strategy"].split("@")[0], Fill(
        trade_id=e["trade_id"], client_id=e["client_id"], venue_order_id="", symbol=e["symbol"],
        side=Side(e["side"]), qty=Decimal(e["qty"]), price=Decimal(e["price"]),
        fee=Decimal(e["fee"]), fee_asset="", liquidity=Liquidity.TAKER, ts=e["ts"],
    )  # fmt: skip


fills = st.lists(
    st.tuples(
        st.integers(0, 120_000),  # ms after the previous fill... in units of 7.2 s (to ~10 days)
        st.sampled_from(["a", "b"]),
        st.sampled_from(["X/USD", "Y/USD"]),
        st.sampled_from(["buy", "sell"]),
        st.integers(1, 3),
        st.integers(90, 110),
        st.integers(0, 5),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(fills, st.integers(0, 10 * DAY), st.integers(0, 23))
def test_the_windows_are_the_sums_of_the_fills_and_trips_they_cover(rows, later, hour) -> None:
    events, ts = [], T0
    for seq, (gap, sid, sym, side, qty, price, fee) in enumerate(rows, 1):
        ts += gap * 7_200
        events.append(event(seq, ts, sid, sym, side, str(qty), str(price), f"0.{fee}"))
    book = LiveBook()
    book.apply_all(events)
    now = ts + later
    day_start = now - now % DAY + (hour - 24 if hour * 3_600_000 > now % DAY else hour) * 3_600_000
    pairs = [as_fill(e) for e in events]
    trips = round_trips(pairs)
    got = book.pnl(now, day_start=day_start)
    for w, start in (("today", day_start), ("7d", now - 7 * DAY)):
        floor = start - start % BUCKET_MS  # the window opens at its quarter hour
        if now - floor > KEEP_MS:
            continue  # older than the book keeps: not a window it serves
        for row in got["rows"]:
            key = (row["strategy"], row["symbol"])
            fees = sum((f.fee for s, f in pairs if (s, f.symbol) == key and f.ts >= floor),
                       Decimal(0))  # fmt: skip
            realised = sum((t.net_pnl for t in trips
                            if (t.strategy_id, t.symbol) == key and t.exit_ts >= floor),
                           Decimal(0))  # fmt: skip
            assert Decimal(row[w]["fees"]) == fees, (w, key)
            assert Decimal(row[w]["realised"]) == realised, (w, key)
    total_fees = sum((f.fee for _, f in pairs), Decimal(0))
    assert Decimal(got["total"]["all"]["fees"]) == total_fees
    assert Decimal(got["total"]["all"]["realised"]) == sum((t.net_pnl for t in trips), Decimal(0))


def test_a_month_of_fills_every_few_seconds_leaves_the_book_its_size() -> None:
    book = LiveBook()
    n, gap = 300_000, 9_000  # 31 days, a fill every 9 s, round trips all along
    for i in range(n):
        side = "buy" if i % 2 == 0 else "sell"
        book.apply(event(i + 1, T0 + i * gap, "mm", "X/USD", side, "1", str(100 + i % 3), "0.01"))
    now = T0 + (n - 1) * gap
    assert len(book.fills) == RECENT and book.fills_total == n
    assert book.trips.closed == []  # summed as they closed, none kept
    assert len(book.windows) <= KEEP_MS // BUCKET_MS + 1
    pnl = book.pnl(now, day_start=now - now % DAY)["total"]
    per_day = DAY // gap
    assert Decimal(pnl["all"]["fees"]) == Decimal("0.01") * n
    # 7 days from the quarter hour at or before now - 7d
    start = now - 7 * DAY
    floor = start - start % BUCKET_MS
    covered = sum(1 for i in range(n) if T0 + i * gap >= floor)
    assert Decimal(pnl["7d"]["fees"]) == Decimal("0.01") * covered
    assert covered > 7 * per_day
    assert book.snapshot(now)["fills"][0]["trade_id"] == f"t{n}"  # newest first


def test_the_fills_counter_counts_every_fill_not_the_ones_on_the_page() -> None:
    book = LiveBook()
    for i in range(RECENT + 25):
        book.apply(event(i + 1, T0 + i, "s", "X/USD", "buy", "1", "100", "0"))
    collector = BookCollector(lambda f: f(book), lambda: T0 + DAY)
    [fills] = [m for m in collector.collect() if m.name == "bastion_fills"]
    assert fills.samples[0].value == RECENT + 25

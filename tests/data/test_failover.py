"""Failover as a state machine (heartbeats, fail-back after a healthy spell) and
the bar seam across switches, with a clock passed in."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.data.bar_builder import BarBuilder
from bastion.data.failover import FailoverMachine, SwitchReason
from bastion.data.heartbeat import Heartbeat
from bastion.data.selector import FeedSelector, FeedSpec
from bastion.model import Bar

STALL = 1_000
FAILBACK = 3_000


def machine(n: int = 2) -> FailoverMachine:
    return FailoverMachine([Heartbeat(f"f{i}", STALL) for i in range(n)], failback_ms=FAILBACK)


def test_a_heartbeat_stalls_past_its_threshold_and_restarts_its_healthy_run() -> None:
    hb = Heartbeat("ws", 1_000, started_ms=0)
    assert not hb.stalled(900) and not hb.live(900)  # start-up grace, but nothing yet
    hb.beat(1_000)
    assert hb.live(1_500) and hb.healthy_for(1_500) == 500
    assert hb.stalled(2_001) and hb.healthy_for(2_001) == 0
    hb.beat(5_000)
    assert hb.healthy_since == 5_000


def test_the_primary_stalling_fails_over_and_fail_back_waits_for_a_healthy_spell() -> None:
    m = machine()
    for t in range(0, 2_001, 100):
        m.beat("f0", t)
        m.beat("f1", t)
        assert m.tick(t) is None
    for t in range(2_100, 4_001, 100):  # f0 goes silent at 2,000
        m.beat("f1", t)
        ev = m.tick(t)
        if ev is not None:
            assert (t, ev.to_feed, ev.reason) == (3_100, "f1", SwitchReason.FAILOVER)
    assert m.active == "f1"
    for t in range(4_100, 7_200, 100):  # f0 back at 4,100: healthy for 3 s at 7,100
        m.beat("f0", t)
        m.beat("f1", t)
        ev = m.tick(t)
        assert (ev is None) == (t != 7_100)
    assert m.active == "f0" and m.switches[-1].reason is SwitchReason.FAILBACK


def test_every_feed_stalled_leaves_no_active_feed_until_one_beats() -> None:
    m = machine()
    m.beat("f0", 0)
    m.beat("f1", 0)

    ev = m.tick(1_001)

    assert ev is not None and ev.reason is SwitchReason.ALL_STALLED and m.active is None
    m.beat("f1", 1_500)
    ev = m.tick(1_500)
    assert ev is not None and (ev.to_feed, ev.reason) == ("f1", SwitchReason.RECOVERED)


events = st.lists(
    st.tuples(st.integers(0, 400), st.sets(st.sampled_from(["f0", "f1", "f2"]))),
    min_size=1,
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(events)
def test_the_machine_never_trusts_a_stalled_feed_nor_fails_back_early(
    steps: list[tuple[int, set[str]]],
) -> None:
    m = machine(3)
    now = 0
    for dt, beating in steps:
        now += dt
        for f in sorted(beating):
            m.beat(f, now)
        before = m.active
        ev = m.tick(now)
        active = m.active
        if active is not None:
            assert not m.heartbeat(active).stalled(now), "an active feed is never stalled"
        else:
            assert all(not hb.live(now) for hb in m.heartbeats), "no feed only when none is live"
        if ev is not None and ev.reason is SwitchReason.FAILBACK:
            assert m.heartbeat(active or "").healthy_for(now) >= FAILBACK
            assert before is not None and int((active or "f9")[1]) < int(before[1])
        if ev is None:
            assert active == before


# ------------------------------------------------------------------- the seam
INTERVAL = 1_000


def trades(until: int, every: int = 100) -> list[tuple[str, int, float]]:
    """One trade every ``every`` ms, id = its time, price wandering."""
    return [(str(t), t, 100.0 + (t // 700) % 5) for t in range(0, until, every)]


def reference_bars(tape: list[tuple[str, int, float]]) -> list[Bar]:
    b = BarBuilder("X", INTERVAL, lambda *a: None)
    out = [bar for tid, ts, p in tape for bar in b.on_trade(tid, ts, p, 1.0)]
    return out


def run_selector(
    tape: list[tuple[str, int, float]], ws_silent: list[tuple[int, int]], poll_every: int = 300
) -> tuple[list[Bar], list[tuple[str, dict[str, Any]]]]:
    """A stream and a poll feed on the same tape; the stream is silent in the
    given windows (a stall: socket open, nothing sent)."""
    journal: list[tuple[str, dict[str, Any]]] = []
    sel = FeedSelector(
        "X",
        INTERVAL,
        [FeedSpec("ws", "stream", 500), FeedSpec("rest", "poll", 1_000)],
        lambda k, ts, p: journal.append((k, p)),
        failback_ms=2_000,
        start_ms=0,
    )
    out: list[Bar] = []
    polled = 0
    end = tape[-1][1] + 1
    for now in range(0, end + 1, 50):
        for tid, ts, p in tape:
            if ts == now and not any(a <= ts < b for a, b in ws_silent):
                out += sel.on_trade("ws", tid, ts, p, 1.0, now)
        if now % poll_every == 0 and now > 0:  # the poll returns every trade so far
            for tid, ts, p in tape:
                if polled <= ts < now:
                    out += sel.on_trade("rest", tid, ts, p, 1.0, now)
            polled = now
            out += sel.on_poll("rest", now, now)
        out += sel.on_clock(now)
    return out, journal


def test_bars_across_a_failover_and_a_failback_equal_the_exchanges_bars() -> None:
    tape = trades(30_000)
    want = reference_bars(tape)

    got, journal = run_selector(tape, ws_silent=[(8_300, 14_000)])

    # The bar the feeds joined part-way (the first) is never handed on; from
    # there on every bar is the exchange's, none missing, none twice.
    want = [b for b in want if b.ts >= INTERVAL]
    assert got == want[: len(got)]
    assert len(got) >= len(want) - 1  # the last bar may still be open
    switches = [(p["from"], p["to"], p["reason"]) for k, p in journal if k == "feed_switched"]
    assert switches == [("ws", "rest", "FAILOVER"), ("rest", "ws", "FAILBACK")]
    assert any(k == "feed_stalled" and p["feed"] == "ws" and p["alert"] for k, p in journal)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1_000, 25_000), st.integers(600, 6_000)), min_size=1, max_size=3)
)
def test_no_bar_is_doubled_or_altered_whatever_the_stalls(windows: list[tuple[int, int]]) -> None:
    tape = trades(30_000)
    want = {b.ts: b for b in reference_bars(tape)}

    got, _ = run_selector(tape, ws_silent=[(a, a + d) for a, d in windows])

    stamps = [b.ts for b in got]
    assert stamps == sorted(set(stamps)), "a bar doubled or out of order"
    for b in got:
        assert b == want[b.ts], f"bar {b.ts} differs from the exchange's"


def test_both_feeds_silent_means_no_bars_and_an_alert() -> None:
    tape = trades(10_000)
    journal: list[tuple[str, dict[str, Any]]] = []
    sel = FeedSelector(
        "X",
        INTERVAL,
        [FeedSpec("ws", "stream", 500), FeedSpec("rest", "poll", 1_000)],
        lambda k, ts, p: journal.append((k, p)),
        failback_ms=2_000,
        start_ms=0,
    )
    for tid, ts, p in tape[:30]:
        sel.on_trade("ws", tid, ts, p, 1.0, ts)
        sel.on_trade("rest", tid, ts, p, 1.0, ts)
        sel.on_clock(ts)

    assert sel.on_clock(5_000) == []

    assert sel.active is None
    assert [p["reason"] for k, p in journal if k == "feeds_down"] == ["ALL_STALLED"]

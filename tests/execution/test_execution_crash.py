"""Crash recovery: a bot SIGKILLed at each step of the submit path restarts
and places no duplicate order (real subprocesses, a venue that outlives them)."""

from __future__ import annotations

import pickle
import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bastion.execution.backfill import STATUS_KINDS
from bastion.model import OrderStatus
from bastion.observe.journal import read_events
from bastion.state.orders import OrderStore

BOT = Path(__file__).with_name("crashbot.py")
ROOT = Path(__file__).resolve().parents[2]
BARS = 14


def run_bot(
    folder: Path, crash_at: str, *, bars: int = BARS, nth: int = 1, kind: str = "want_one"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BOT), str(folder), crash_at, str(bars), str(nth), kind],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )


@pytest.mark.parametrize("crash_at", ["before_persist", "after_persist", "after_send", "after_ack"])
def test_sigkill_mid_submit_places_no_duplicate(tmp_path, crash_at):
    first = run_bot(tmp_path, crash_at)
    assert first.returncode == -signal.SIGKILL, first.stderr

    second = run_bot(tmp_path, "none")

    assert second.returncode == 0, second.stderr
    venue = pickle.loads((tmp_path / "venue.pkl").read_bytes())
    # The strategy wanted one unit, once: exactly one order reached the exchange
    # (none at all if the process died before the order was even recorded, in
    # which case the restarted bot placed it).
    assert venue.orders_received == 1
    assert venue.fetch_account().position("SYN/USDT") == 1
    store = OrderStore(tmp_path / "state.sqlite")
    try:
        orders = list(store.all_orders())
        assert all(o.status.terminal for o in orders), [
            (o.request.client_id, o.status) for o in orders
        ]
        filled = [o for o in orders if o.status is OrderStatus.FILLED]
        assert len(filled) == 1
        # The local ledger (our fills) equals the venue's position.
        assert sum(f.signed_qty for f in store.fills()) == 1
    finally:
        store.close()
    kinds = [e["kind"] for e in read_events(tmp_path)]
    assert kinds.count("session_start") == 2
    assert "recovered" in kinds


def test_clean_run_baseline(tmp_path):
    done = run_bot(tmp_path, "none")
    assert done.returncode == 0, done.stderr
    assert "position=1 orders_received=1" in done.stdout


# ------------------------------------------------- the journal after SIGKILL
# Each point leaves the order store ahead of the journal (the store commits at
# once, the journal in batches): an order stored but not journaled, a fill
# stored but not journaled, a state change stored but not journaled, an order
# accepted, an acknowledgement journaled. The NTH time is seeded per trial.
STORE_AHEAD = ["after_persist", "after_send", "after_ack", "after_store_fill", "after_store_update"]
MOVES_BARS = 30


def assert_journal_explains_the_store(folder: Path) -> None:
    store = OrderStore(folder / "state.sqlite")
    try:
        orders, fills = list(store.all_orders()), store.fills()
    finally:
        store.close()
    events = list(read_events(folder))
    submitted = Counter(e["client_id"] for e in events if e["kind"] == "order_submitted")
    journaled_fills = Counter(e["trade_id"] for e in events if e["kind"] == "fill")
    last: dict[str, str] = {}
    for e in events:
        if e["kind"] in STATUS_KINDS:
            last[e["client_id"]] = e["kind"].removeprefix("order_")
    assert orders and fills
    for o in orders:
        cid = o.request.client_id
        assert submitted[cid] == 1, (cid, submitted[cid])
        if o.status.terminal:
            assert last.get(cid) == o.status.value, (cid, last.get(cid), o.status)
    for f in fills:
        assert journaled_fills[f.trade_id] == 1, (f.trade_id, journaled_fills[f.trade_id])
    # nothing journaled that the store does not hold
    assert set(submitted) == {o.request.client_id for o in orders}
    assert set(journaled_fills) == {f.trade_id for f in fills}


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("crash_at", STORE_AHEAD)
def test_sigkill_between_store_and_journal_leaves_a_journal_that_explains_every_order(
    tmp_path, crash_at, seed
):
    nth = random.Random(f"{crash_at}:{seed}").randint(1, 6)
    first = run_bot(tmp_path, crash_at, bars=MOVES_BARS, nth=nth, kind="moves")
    assert first.returncode == -signal.SIGKILL, (nth, first.stdout, first.stderr[-2000:])

    second = run_bot(tmp_path, "none", bars=MOVES_BARS, kind="moves")

    assert second.returncode == 0, second.stderr[-3000:]
    assert_journal_explains_the_store(tmp_path)
    venue = pickle.loads((tmp_path / "venue.pkl").read_bytes())
    store = OrderStore(tmp_path / "state.sqlite")
    try:
        n_orders = len(list(store.all_orders()))
        ledger = sum(f.signed_qty for f in store.fills())
    finally:
        store.close()
    assert venue.orders_received <= n_orders  # no client id sent twice, none unrecorded
    assert venue.fetch_account().position("SYN/USDT") == ledger
    recovered = [e for e in read_events(tmp_path) if e.get("recovered") is True]
    if crash_at in ("after_persist", "after_store_fill", "after_store_update"):
        assert recovered, "the crash left the journal behind: recovery must have journaled"

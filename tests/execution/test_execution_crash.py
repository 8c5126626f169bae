"""Crash recovery: a bot SIGKILLed at each step of the submit path restarts
and places no duplicate order (real subprocesses, a venue that outlives them)."""

from __future__ import annotations

import pickle
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bastion.model import OrderStatus
from bastion.observe.journal import read_events
from bastion.state.orders import OrderStore

BOT = Path(__file__).with_name("crashbot.py")
ROOT = Path(__file__).resolve().parents[2]
BARS = 14


def run_bot(folder: Path, crash_at: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BOT), str(folder), crash_at, str(BARS)],
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

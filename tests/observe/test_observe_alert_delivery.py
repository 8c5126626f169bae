"""Delivery that goes wrong: a receiver that is down (port closed) or hangs
(accepts, never answers) costs the caller nothing, delays no other receiver,
and makes no working receiver get the same message twice. Real apprise to
real sockets on loopback; the bounds are generous (a call that returns in
under 0.5 s while the delivery it started takes 10 s and more)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from observe_support import Receiver, wait_for

from bastion.clock import wall_ms
from bastion.config import parse_config
from bastion.observe.journal import Journal, read_events
from bastion.observe.service import ObserveService


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"json://127.0.0.1:{port}/"  # closed when we return: connections are refused


class Hanging:
    """Accepts connections and never answers (worse than down)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.sock.getsockname()[1]}/"

    def _accept(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def _service(folder: Path, routes: dict[str, list[str]], **alerts: Any) -> ObserveService:
    cfg = parse_config(
        {
            "name": "delivery-test",
            "observe": {
                "poll_s": 0.05,
                "alerts": {"enabled": True, "routes": routes, **alerts},
            },
        }
    )
    return ObserveService(cfg, folder, clock=wall_ms)


def _retry_cap(journal: Journal, n: int = 1) -> None:
    for i in range(n):
        payload = {"client_id": f"c-{i}", "symbol": "BTC/USDT", "alert": True}
        journal.append("retry_cap", wall_ms(), payload)
    journal.flush()


@pytest.mark.parametrize("kind", ["closed", "hanging"])
def test_the_alert_call_returns_at_once_while_the_receiver_is_down(kind, tmp_path):
    """The observers' step (read the journal, route, gate, hand to the notifier)
    is what runs between the journal and apprise: it must not wait for one."""
    import apprise  # noqa: F401  loaded up front: its import time is not what is measured

    hang = Hanging()
    url = dead_url() if kind == "closed" else hang.url
    folder = tmp_path / "bot"
    journal = Journal(folder / "journal.sqlite")
    # a closed port fails at once, then backs off 1 s, 2 s, 4 s; a hung one costs
    # apprise's 4 s read timeout per attempt: the delivery takes 7 s or 16 s
    service = _service(folder, {"critical": [url]}, retries=3, retry_base_s=1.0)
    service.notifier.start()  # the delivery thread, not the polling one: we call step()
    try:
        took = []
        for _ in range(5):
            _retry_cap(journal, 3)
            t0 = time.perf_counter()
            service.step()
            took.append(time.perf_counter() - t0)
        if kind == "hanging":
            assert wait_for(lambda: hang.conns, 5)  # apprise is inside a delivery now
        assert not list(read_events(folder, kinds=["alert_sent", "alert_failed"]))
        assert max(took) < 0.5, took
    finally:
        service.notifier.stop(timeout=0.1)
        journal.close()
        hang.close()


def test_a_hung_receiver_does_not_delay_another_route(tmp_path):
    """Chat hangs; the pager still gets the critical page at once, not after the
    chat's retries have timed out one by one."""
    hang, pager = Hanging(), Receiver()
    folder = tmp_path / "bot"
    journal = Journal(folder / "journal.sqlite")
    service = _service(
        folder, {"info": [hang.url], "critical": [pager.url]}, retries=2, retry_base_s=1.0
    ).start()
    try:
        journal.append("session_start", wall_ms(), {"boot": 1, "run_id": "r"})
        journal.flush()
        assert wait_for(lambda: hang.conns, 5)  # the info message is stuck in delivery
        t0 = time.monotonic()
        _retry_cap(journal)
        assert wait_for(lambda: pager.bodies, 20)
        took = time.monotonic() - t0
        # the hung delivery takes 3 x 4 s + 3 s of backoff; the page comes well before
        assert took < 3.0, took
        assert ["retry cap" in t for t in pager.titles()] == [True]
    finally:
        service.stop(timeout=0.5)
        journal.close()
        pager.close()
        hang.close()


def test_a_failing_receiver_beside_a_working_one_is_retried_alone(tmp_path):
    """A route with the pager and a dead e-mail relay: the relay's retries must
    not page the operator again and again; the failure is journaled for it."""
    pager = Receiver()
    folder = tmp_path / "bot"
    journal = Journal(folder / "journal.sqlite")
    service = _service(
        folder, {"critical": [pager.url, dead_url()]}, retries=2, retry_base_s=0.05
    ).start()
    try:
        _retry_cap(journal)
        assert wait_for(lambda: list(read_events(folder, kinds=["alert_failed"])), 10)
        time.sleep(0.3)
        assert len(pager.bodies) == 1, pager.titles()
        sent = list(read_events(folder, kinds=["alert_sent"]))
        failed = list(read_events(folder, kinds=["alert_failed"]))
        assert [(e["via"], e["attempts"]) for e in sent] == [("json", 1)]
        assert [(e["via"], e["attempts"]) for e in failed] == [("json", 3)]
        assert "127.0.0.1" not in str(sent + failed)  # URLs may carry keys: never journaled
    finally:
        service.stop()
        journal.close()
        pager.close()

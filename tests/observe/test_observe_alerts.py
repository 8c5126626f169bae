"""Alerts reach a person: through apprise to a local HTTP receiver (json://)
and a local SMTP server (aiosmtpd, mailto://), one message per trigger, with
its content; a storm becomes a few messages; a receiver that is down or hangs
does not slow the cycle, and the failed delivery is retried and journaled."""

from __future__ import annotations

import socket
import statistics
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from observe_support import CANARY_SECRET, Mailbox, Receiver, make_bot, step, wait_for

from bastion.clock import wall_ms
from bastion.config import parse_config
from bastion.engine.latch import change_latch
from bastion.killswitch.audit import AuditLog
from bastion.observe.alerting import Alert, AlertGate, AlertRules
from bastion.observe.journal import Journal, read_events
from bastion.observe.service import ObserveService
from bastion.risk.latch import HaltState

# Every trigger the issue lists, as its producer journals it (kind, payload).
TRIGGERS: list[tuple[str, dict]] = [
    ("flatten", {"reason": "DAILY_LOSS", "details": {}, "cycle": 7}),
    ("kill_flag", {"reason": "KILL: test", "by": "sentinel", "flag_ts": 1, "alert": True}),
    ("retry_cap", {"client_id": "c-1", "symbol": "BTC/USDT", "alert": True}),
    ("order_unresolved", {"client_id": "c-2", "symbol": "BTC/USDT", "alert": True}),
    (
        "reconcile_delta",
        {
            "symbol": "BTC/USDT",
            "venue": "0.5",
            "expected": "0",
            "delta": "0.5",
            "explained": False,
            "alert": True,
        },
    ),
    ("feed_stale", {"symbol": "BTC/USDT", "silent_s": 30, "action": "rebuild", "alert": True}),
    ("feed_stalled", {"symbol": "ETH/USDT", "feed": "primary", "silent_ms": 9000, "alert": True}),
    (
        "feed_switched",
        {
            "symbol": "ETH/USDT",
            "from": "primary",
            "to": "fallback",
            "reason": "stalled",
            "alert": True,
        },
    ),
    ("feeds_down", {"symbol": "ETH/USDT", "from": "fallback", "to": None, "alert": True}),
    ("schema_drift", {"venue": "binance", "what": "balance reply", "alert": True}),
    ("session_start", {"boot": 1, "run_id": "r1"}),
    ("run_end", {"cycles": 3, "orders": 1}),
]
TITLES = {
    "flatten": "flattened",
    "kill_flag": "killed",
    "retry_cap": "retry cap reached",
    "order_unresolved": "order outcome unresolved",
    "reconcile_delta": "unexplained reconciliation delta",
    "feed_stale": "feed silent, stream rebuilt",
    "feed_stalled": "feed stalled",
    "feed_switched": "feed failover",
    "feeds_down": "every feed is down",
    "schema_drift": "exchange reply schema drift",
    "session_start": "bot started",
    "run_end": "bot stopped",
    "latch": "halted (HALTED)",
    "heartbeat_lost": "heartbeat lost",
    "kill_done": "kill switch ran",
    "loss50": "daily loss at 50% of the cap",
    "loss80": "daily loss at 80% of the cap",
}


def _config(urls: dict, **alerts):
    return parse_config(
        {
            "name": "alert-test",
            "risk": {"loss": {"daily_loss": "0.05"}},
            "observe": {
                "poll_s": 0.05,
                "alerts": {"enabled": True, "routes": urls, "retry_base_s": 0.05, **alerts},
            },
        }
    )


def _service(folder: Path, cfg) -> ObserveService:
    return ObserveService(cfg, folder, clock=wall_ms).start()


def test_every_trigger_arrives_once_over_http_and_smtp_with_its_content(tmp_path, monkeypatch):
    monkeypatch.setenv("BASTION_TEST_API_SECRET", CANARY_SECRET)
    recv, box = Receiver(), Mailbox().start()
    everywhere = [recv.url, box.mailto()]
    cfg = _config(
        {"info": everywhere, "warning": everywhere, "critical": everywhere}, max_per_minute=60
    )
    folder = tmp_path / "bot"
    journal = Journal(folder / "journal.sqlite")
    journal.append("cycle", wall_ms(), {"cycle": 0})  # history: must not page again
    journal.flush()
    service = _service(folder, cfg)
    try:
        now = wall_ms()
        for kind, payload in TRIGGERS:
            journal.append(kind, now, {**payload, "error": f"secret was {CANARY_SECRET}"})
        # the daily loss warnings: equity falls 50% then 80% of the 5% cap
        for eq in ("100000", "97500", "96000"):
            journal.append("cycle_stats", now, {"cycle": 1, "equity": eq})
        journal.flush()
        change_latch(
            folder, HaltState.HALTED, "operator test", "tester", wall_ms()
        )  # as `bastion halt`
        audit = AuditLog(folder / "killswitch-audit.jsonl")  # the sentinel's own log
        audit.append("heartbeat_lost", silent_s=130, action="alert")
        audit.append("kill_done", ok=True, elapsed_s=1.2, remaining={}, dust=[])
        expected = len(TITLES)
        assert wait_for(lambda: len(recv.bodies) >= expected and len(box.messages) >= expected, 30)
        time.sleep(0.5)  # nothing more trickles in
        titles = recv.titles()
        subjects = [str(m["Subject"]) for m in box.messages]
        assert all(t.startswith("alert-test: [") for t in titles)  # the bot's name first
        for want in TITLES.values():
            assert sum(want in t for t in titles) == 1, (want, titles)
            assert sum(want in s for s in subjects) == 1, (want, subjects)
        assert len(titles) == expected and len(subjects) == expected
        # with its content: the event's fields are in the body
        body = next(b["message"] for b in recv.bodies if "reconciliation" in b["title"])
        assert "delta=0.5" in body and "BTC/USDT" in body
        mail = next(m for m in box.messages if "retry cap" in str(m["Subject"]))
        assert "c-1" in mail.get_body(preferencelist=("plain", "html")).get_content()
        everything = b"".join(recv.raw) + b"".join(box.raw)
        assert CANARY_SECRET.encode() not in everything
        sent = list(read_events(folder, kinds=["alert_sent"]))  # one per receiver
        assert sorted(e["via"] for e in sent) == sorted(["json", "mailto"] * expected)
    finally:
        service.stop()
        journal.close()
        recv.close()
        box.stop()


def test_severities_are_routed_critical_to_the_pager_info_to_chat(tmp_path):
    pager, chat = Receiver(), Receiver()
    cfg = _config({"critical": [pager.url], "info": [chat.url]})
    folder = tmp_path / "bot"
    journal = Journal(folder / "journal.sqlite")
    service = _service(folder, cfg)
    try:
        journal.append("session_start", wall_ms(), {"boot": 1})
        journal.append("retry_cap", wall_ms(), {"client_id": "c", "symbol": "X/Y", "alert": True})
        journal.flush()
        assert wait_for(lambda: pager.bodies and chat.bodies, 15)
        time.sleep(0.3)
        assert [("retry cap" in t) for t in pager.titles()] == [True]
        assert [("bot started" in t) for t in chat.titles()] == [True]
    finally:
        service.stop()
        journal.close()
        pager.close()
        chat.close()


def test_a_storm_of_100_identical_triggers_arrives_as_a_few_messages(tmp_path):
    recv = Receiver()
    cfg = _config({"warning": [recv.url]}, dedupe_s=1.0)
    folder = tmp_path / "bot"
    journal = Journal(folder / "journal.sqlite")
    service = _service(folder, cfg)
    try:
        for _ in range(100):
            journal.append("feed_stale", wall_ms(), {"symbol": "BTC/USDT", "alert": True})
            journal.flush()
        assert wait_for(lambda: any("x99" in t for t in recv.titles()), 15)
        time.sleep(1.5)
        assert 1 <= len(recv.bodies) <= 3, recv.titles()
        assert "x99" in recv.titles()[-1]
    finally:
        service.stop()
        journal.close()
        recv.close()


@settings(max_examples=60, deadline=None)
@given(
    times=st.lists(st.integers(0, 600_000), min_size=1, max_size=300),
    dedupe_ms=st.integers(0, 120_000),
    per_minute=st.integers(1, 20),
)
def test_the_gate_never_loses_an_alert_and_never_exceeds_its_rate(times, dedupe_ms, per_minute):
    gate = AlertGate(dedupe_ms=dedupe_ms, max_per_minute=per_minute)
    out = []
    a = Alert("k", "warning", "t", "b", 0)
    for t in sorted(times):
        out += [(t, m) for m in gate.offer(a, t)]
        out += [(t, m) for m in gate.due(t)]
    end = max(times)
    for k in range(1, 100):  # time passes: everything held comes out
        out += [(end + k * 60_000, m) for m in gate.due(end + k * 60_000)]
    assert sum(m.count for _, m in out) == len(times)
    sent_at = [t for t, _ in out]
    for i, t in enumerate(sent_at):
        assert sum(1 for u in sent_at[: i + 1] if t - u < 60_000) <= per_minute


def test_daily_loss_warnings_follow_the_local_window_across_dst():
    rules = AlertRules(daily_loss=Decimal("0.1"), timezone="Europe/Berlin", reset_time="00:00")
    # 2026-03-29 is 23 hours long in Berlin; the window opened at 2026-03-28T23:00Z
    start = rules.window_start(1774800000000)  # 2026-03-29T16:00Z
    assert start == 1774738800000
    assert rules.window_start(start - 1) == start - 24 * 3_600_000  # the 28th had 24 hours


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when we return: connections are refused


class Hanging:
    """Accepts connections and never answers (worse than down)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

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


def _cycle_times(rig, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        step(rig, 1)
        out.append(time.perf_counter() - t0)
    return out


@pytest.mark.slow
def test_a_receiver_that_is_down_or_hangs_does_not_slow_the_cycle(tmp_path):
    hang = Hanging()
    urls = [f"json://127.0.0.1:{_dead_port()}/", f"json://127.0.0.1:{hang.port}/"]
    folder = tmp_path / "bot"
    cfg = _config({"info": urls, "warning": urls, "critical": urls}, retries=2)
    rig = make_bot(folder)
    try:
        base = _cycle_times(rig, 6)
        service = _service(folder, cfg)
        try:
            # every cycle now raises alerts the notifier cannot deliver
            for _ in range(6):
                rig.session.journal.append(
                    "retry_cap", wall_ms(), {"client_id": str(time.time()), "alert": True}
                )
            change_latch(folder, HaltState.HALTED, "storm", "tester", wall_ms())
            loaded = _cycle_times(rig, 6)
        finally:
            service.stop(timeout=1.0)
        assert statistics.median(loaded) < statistics.median(base) * 2 + 0.05, (base, loaded)
        assert max(loaded) < 1.0
    finally:
        rig.close()
        hang.close()


def test_a_failed_delivery_is_retried_and_journaled(tmp_path):
    cfg = _config({"critical": [f"json://127.0.0.1:{_dead_port()}/"]}, retries=2)
    folder = tmp_path / "bot"
    journal = Journal(folder / "journal.sqlite")
    service = _service(folder, cfg)
    try:
        journal.append("retry_cap", wall_ms(), {"client_id": "c", "alert": True})
        journal.flush()
        assert wait_for(lambda: list(read_events(folder, kinds=["alert_failed"])), 20)
        failed = list(read_events(folder, kinds=["alert_failed"]))
        assert len(failed) == 1 and failed[0]["attempts"] == 3
    finally:
        service.stop()
        journal.close()


def test_bastion_alert_test_reaches_every_route_and_fails_loudly(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from bastion.cli import app

    recv, box = Receiver(), Mailbox().start()
    cfg = tmp_path / "bot.toml"
    cfg.write_text(f'[observe.alerts]\nroutes = {{ critical = ["{box.mailto()}"] }}\n')
    monkeypatch.setenv("BASTION_ALERT_URLS", recv.url)
    try:
        r = CliRunner().invoke(app, ["alert", "test", "--config", str(cfg)])
        assert r.exit_code == 0, r.output
        assert len(recv.bodies) == 3 and len(box.messages) == 1
        assert "critical: delivered to 2 URL(s)" in r.output
        monkeypatch.setenv("BASTION_ALERT_URLS", f"json://127.0.0.1:{_dead_port()}/")
        r = CliRunner().invoke(app, ["alert", "test", "--config", str(cfg), "--severity", "info"])
        assert r.exit_code == 1 and "info: FAILED" in r.output
        r = CliRunner().invoke(app, ["alert", "test", "--config", str(cfg), "--severity", "loud"])
        assert r.exit_code == 2 and "loud" in r.output
    finally:
        recv.close()
        box.stop()

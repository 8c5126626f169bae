"""Heartbeat loss reaches a person when the bot is dead: the sentinel (its own
process) sends it through apprise to the alerts' critical route, as the bot's
observers send every other critical alert, and an observer reading the
sentinel's audit log does not send it a second time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from observe_support import Mailbox, Receiver, wait_for

from bastion.clock import wall_ms
from bastion.config import parse_config
from bastion.killswitch.audit import AuditLog
from bastion.killswitch.sentinel import build_sentinel
from bastion.killswitch.watchdog import Pager
from bastion.observe.journal import Journal
from bastion.observe.service import ObserveService

TOKEN = "kill-token-for-the-test"


def _config(folder: Path, pager: list[str], chat: list[str]):
    return parse_config(
        {
            "name": "hb-bot",
            "data_dir": str(folder),
            "killswitch": {"heartbeat_timeout_s": 0.2},
            "observe": {
                "poll_s": 0.05,
                "alerts": {
                    "enabled": True,
                    "routes": {"critical": pager, "info": chat, "warning": chat},
                    "retry_base_s": 0.05,
                },
            },
        }
    )


@pytest.mark.parametrize("observer", [False, True], ids=["bot_dead", "dashboard_alerting"])
def test_heartbeat_loss_is_paged_by_the_sentinel_once(tmp_path, monkeypatch, observer):
    monkeypatch.setenv("BASTION_KILL_TOKEN", TOKEN)
    monkeypatch.delenv("BASTION_ALERT_URLS", raising=False)
    pager, chat, box = Receiver(), Receiver(), Mailbox().start()
    folder = tmp_path / "data"
    cfg = _config(folder, [pager.url, box.mailto("pager@example.test")], [chat.url])
    journal = Journal(folder / "journal.sqlite")
    journal.append("cycle", wall_ms(), {"cycle": 1})
    journal.flush()
    # with an observer on the same folder (`bastion dashboard --alerts`), which
    # reads the sentinel's audit log: the page must still arrive once
    service = ObserveService(cfg, folder, clock=wall_ms).start() if observer else None
    sentinel = build_sentinel(cfg, folder)
    try:
        assert sentinel.watchdog is not None
        time.sleep(0.3)  # no cycle for longer than the timeout
        assert sentinel.watchdog.check() == "alert"
        assert wait_for(lambda: pager.bodies and box.messages, 10)
        time.sleep(0.5)  # nothing more trickles in
        head = "hb-bot: [CRITICAL] heartbeat lost"
        assert pager.titles() == [head]
        assert [str(m["Subject"]) for m in box.messages] == [head]
        assert "pager@example.test" in str(box.messages[0]["To"])
        assert chat.bodies == []  # critical goes to the pager only
        body = pager.bodies[0]["message"]
        assert "age_s=" in body and "action=alert" in body and str(folder) in body
        audit = AuditLog(folder / "killswitch-audit.jsonl").read()
        lost = [a for a in audit if a["event"] == "heartbeat_lost"]
        assert len(lost) == 1 and lost[0]["paged_by"] == "sentinel"
        assert wait_for(
            lambda: sorted(
                a["via"] for a in AuditLog(folder / "killswitch-audit.jsonl").read()
                if a["event"] == "page"
            ) == ["json", "mailto"], 5,
        )  # fmt: skip
    finally:
        if service is not None:
            service.stop()
        sentinel.killswitch.close()
        journal.close()
        pager.close()
        chat.close()
        box.stop()


def test_a_dead_receiver_is_retried_alone_and_audited(tmp_path):
    """The pager took it; the dead relay beside it is retried, then audited as a
    failed page, without paging the operator again through the pager."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"json://127.0.0.1:{s.getsockname()[1]}/"
    pager = Receiver()
    audit = AuditLog(tmp_path / "audit.jsonl")
    p = Pager(None, None, audit, apprise_urls=[pager.url, dead], bot="b", retries=2,
              retry_base_s=0.05)  # fmt: skip
    try:
        p.page({"alert": "bastion heartbeat lost", "age_s": 130.0, "action": "alert"})
        assert pager.titles() == ["b: [CRITICAL] heartbeat lost"]
        rows = [(a["event"], a["via"], a["attempts"]) for a in audit.read()]
        assert sorted(rows) == [("page", "json", 1), ("page_failed", "json", 3)]
        assert "127.0.0.1" not in (tmp_path / "audit.jsonl").read_text()  # no URL on record
    finally:
        pager.close()

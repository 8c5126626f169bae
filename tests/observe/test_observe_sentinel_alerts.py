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


@pytest.mark.slow
def test_a_bot_killed_with_sigkill_is_paged_through_apprise_by_the_sentinel(tmp_path):
    """The real processes: a bot with its observers in-process (they say "bot
    started" to chat), and the sentinel beside it. SIGKILL the bot: its
    observers die with it; the heartbeat page still reaches the pager and the
    mailbox, once."""
    import json
    import signal
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "killswitch"))
    import killswitch_support as ks

    pager, chat, box = Receiver(), Receiver(), Mailbox().start()
    routes = {"critical": [pager.url, box.mailto("pager@example.test")], "info": [chat.url]}
    alerts = (
        "[observe.alerts]\nenabled = true\nretry_base_s = 0.1\n"
        + "routes = {{ {} }}\n".format(
            ", ".join(f"{k} = {json.dumps(v)}" for k, v in routes.items())
        )
    )
    with ks.emulator() as (emu, _):
        port = ks.free_port()
        cfg = ks.write_config(
            tmp_path, emu, port=port, killswitch={"heartbeat_timeout_s": 3.0}, extra=alerts
        )
        data = tmp_path / "data"
        bot = ks.start_bot(cfg, tmp_path / "bot.log")
        sentinel = None
        try:
            ks.wait_for(lambda: ks.heartbeat(data), 30, "the first cycle", tmp_path / "bot.log")
            assert wait_for(lambda: any("bot started" in t for t in chat.titles()), 15)
            sentinel = ks.start_sentinel(cfg, port, tmp_path / "sentinel.log")
            time.sleep(1.0)
            bot.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            assert wait_for(lambda: pager.bodies and box.messages, 15), tmp_path / "sentinel.log"
            took = time.monotonic() - killed
            time.sleep(1.0)
            head = "kstest: [CRITICAL] heartbeat lost"
            assert pager.titles() == [head]
            assert [str(m["Subject"]) for m in box.messages] == [head]
            assert not [t for t in chat.titles() if "heartbeat" in t]
            assert took < 3.0 + 4.0  # the timeout, the check period, a cycle
        finally:
            ks.stop(bot)
            if sentinel is not None:
                ks.stop(sentinel)
            pager.close()
            chat.close()
            box.stop()

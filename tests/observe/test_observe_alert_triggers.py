"""Every trigger the operator asked to be told about, one at a time, end to end:
the event as its producer journals it (the bot's own code where one call makes
it: the latch, the kill flag, the sentinel's watchdog; otherwise the payload
its producer writes, checked against that producer's source) -> the observe
service's alert router -> apprise -> a local HTTP receiver (``json://``) and a
local SMTP server (aiosmtpd, ``mailto://``). Each arrives exactly once, on the
route its severity names (critical to the pager, info and warnings to chat),
nowhere else, with the bot's name, what happened and the event's facts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from observe_support import CANARY_SECRET, Mailbox, Receiver, wait_for

from bastion.clock import wall_ms
from bastion.config import parse_config
from bastion.engine.latch import change_latch, open_latch
from bastion.engine.session import halt_if_killed
from bastion.killswitch.audit import AuditLog
from bastion.killswitch.watchdog import Pager, Watchdog
from bastion.observe.journal import Journal, read_events
from bastion.observe.service import ObserveService
from bastion.risk.latch import HaltState
from bastion.state.killflag import write_flag

BOT = "trig-bot"
SRC = Path(__file__).resolve().parents[2] / "src" / "bastion"
PAGER_TO, CHAT_TO = "pager@example.test", "chat@example.test"


@dataclass(frozen=True)
class Rig:
    folder: Path
    journal: Journal

    @property
    def audit(self) -> AuditLog:  # the sentinel's own log, beside the journal
        return AuditLog(self.folder / "killswitch-audit.jsonl")


Produce = Callable[[Rig], None]


@dataclass(frozen=True)
class Trigger:
    name: str
    produce: Produce
    severity: str  # the one the operator's routes see
    title: str  # what happened, as the title says it
    content: tuple[str, ...]  # facts of the event the body must carry
    also: tuple[str, ...] = ()  # titles the same producer raises beside it (a kill halts)
    # (producer module, kind, payload keys): the literal payload is the producer's
    source: tuple[str, str, tuple[str, ...]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def journaled(kind: str, payload: dict[str, Any]) -> Produce:
    def produce(rig: Rig) -> None:
        rig.journal.append(kind, wall_ms(), payload)
        rig.journal.flush()

    return produce


def cycle_stats(*equities: str) -> Produce:
    """The cycle's health sample (``engine/health.py``) as the equity falls."""

    def produce(rig: Rig) -> None:
        for i, eq in enumerate(equities):
            rig.journal.append(
                "cycle_stats",
                wall_ms(),
                {
                    "cycle": i + 1,
                    "cycle_ms": 3.2,
                    "marks": {"BTC/USDT": "60000"},
                    "feeds": {"BTC/USDT": wall_ms() - 200},
                    "rebuilds": 0,
                    "equity": eq,
                    "account": {"BTC/USDT": "0.01"},
                    "reconciled_ts": wall_ms(),
                },
            )
        rig.journal.flush()

    return produce


def halt_by_operator(rig: Rig) -> None:  # `bastion halt` and the dashboard's button
    reason = f"operator checks a fill; token {CANARY_SECRET}"  # a secret pasted by mistake
    change_latch(rig.folder, HaltState.HALTED, reason, "alice", wall_ms())


def halt_by_risk(rig: Rig) -> None:  # the bot's latch, journaled as the session wires it
    latch, store = open_latch(rig.folder, sink=rig.journal)
    try:
        latch.set(HaltState.HALTED, reason="MAX_DRAWDOWN", now=wall_ms(), by="risk")
        rig.journal.flush()
    finally:
        store.close()


def kill_flag(rig: Rig) -> None:  # the sentinel's kill drops the flag; the bot's cycle reads it
    reason = f"KILL: operator pressed kill ({CANARY_SECRET})"  # a secret in the reason
    write_flag(rig.folder, reason=reason, ts=wall_ms(), by="sentinel http")
    latch, store = open_latch(rig.folder, sink=rig.journal)
    try:
        assert halt_if_killed(latch, store, rig.folder, rig.journal, wall_ms())
        rig.journal.flush()
    finally:
        store.close()


def kill_done(rig: Rig) -> None:  # as killswitch/app.py audits a kill it ran
    rig.audit.append(
        "kill_done",
        remote="127.0.0.1",
        ok=True,
        elapsed_s=1.4,
        remaining={"BTC/USDT": "0"},
        dust=["ETH/USDT"],
    )


def heartbeat_lost(rig: Rig) -> None:  # the sentinel's real watchdog, its clock moved on
    now = [wall_ms()]
    audit = rig.audit
    dog = Watchdog(
        rig.folder,
        timeout_s=30,
        flatten=False,
        pager=Pager(None, None, audit),
        audit=audit,
        kill=lambda reason: None,
        wall_ms=lambda: now[0],
    )
    now[0] += 95_000
    assert dog.check() == "alert"


def _t(name: str, produce: Produce, severity: str, title: str, *content: str, **kw: Any) -> Any:
    return pytest.param(Trigger(name, produce, severity, title, content, **kw), id=name)


def _lit(module: str, kind: str, payload: dict[str, Any], *args: Any, **kw: Any) -> Any:
    """A trigger journaled with the payload ``module`` writes (the test checks its keys)."""
    name = kw.pop("name", kind)
    return _t(name, journaled(kind, payload), *args, source=(module, kind, tuple(payload)), **kw)


TRIGGERS = [
    _t("halt_operator", halt_by_operator, "critical", "halted (HALTED)",
       "operator checks a fill; token ***", "by=alice"),
    _t("halt_risk", halt_by_risk, "critical", "halted (HALTED)", "MAX_DRAWDOWN", "by=risk"),
    _lit("engine/cycle.py", "flatten",
         {"reason": "DAILY_LOSS", "details": {"rule": "daily_loss", "limit": 0.05,
          "observed": 0.051, "equity": 94900.0}, "cycle": 41},
         "critical", "flattened", "reason=DAILY_LOSS", "cycle=41"),
    _t("kill_flag", kill_flag, "critical", "killed: the kill flag halted the bot",
       "KILL: operator pressed kill (***)", "by=sentinel http", also=("halted (HALTED)",)),
    _t("kill_done", kill_done, "critical", "kill switch ran", "ok=True", "elapsed_s=1.4"),
    _lit("execution/unknown.py", "retry_cap",
         {"client_id": "bst-7-a1", "symbol": "BTC/USDT", "alert": True},
         "critical", "retry cap reached", "client_id=bst-7-a1", "BTC/USDT"),
    _lit("execution/unknown.py", "order_unresolved",
         {"client_id": "bst-8-b2", "symbol": "BTC/USDT", "age_ms": 120500,
          "last_error": "ExchangeNotAvailable", "alert": True},
         "critical", "order outcome unresolved", "client_id=bst-8-b2", "age_ms=120500"),
    _lit("state/reconciler.py", "reconcile_delta",
         {"asset": "BTC", "symbol": "BTC/USDT", "venue": "0.51", "expected": "0.01",
          "in_flight_buys": "0", "in_flight_sells": "0", "delta": "0.5", "explained": False,
          "while_down": False, "policy": "alert", "baseline": "0.5", "adopted": "0",
          "alert": True},
         "critical", "unexplained reconciliation delta", "delta=0.5", "asset=BTC"),
    _lit("data/feeds.py", "feed_stale",
         {"symbol": "BTC/USDT", "silent_s": 30.0, "action": "rebuild", "alert": True},
         "warning", "feed silent, stream rebuilt", "BTC/USDT", "silent_s=30.0"),
    _lit("data/selector.py", "feed_stalled",
         {"symbol": "ETH/USDT", "feed": "primary", "source": "binance", "silent_ms": 9000,
          "threshold_ms": 5000, "alert": True},
         "warning", "feed stalled", "feed=primary", "silent_ms=9000"),
    _lit("data/selector.py", "feed_switched",
         {"symbol": "ETH/USDT", "from": "primary", "to": "fallback", "reason": "stalled",
          "last_bar": 1764600000000, "alert": True},
         "warning", "feed failover", "from=primary", "to=fallback"),
    _lit("data/selector.py", "feeds_down",
         {"symbol": "ETH/USDT", "from": "fallback", "to": None, "reason": "all_stalled",
          "last_bar": 1764600000000, "alert": True},
         "critical", "every feed is down", "ETH/USDT", "reason=all_stalled"),
    _lit("venues/ccxt/venue.py", "schema_drift",
         {"venue": "binance", "what": "fetch_balance: no 'total'", "alert": True},
         "critical", "exchange reply schema drift", "venue=binance", "no 'total'"),
    _lit("data/feeds.py", "feed_schema_drift",
         {"symbol": "BTC/USDT", "trade": "{'price': None}", "alert": True},
         "critical", "feed message schema drift", "BTC/USDT", "price"),
    _t("heartbeat_lost", heartbeat_lost, "critical", "heartbeat lost", "age_s=95.0",
       "action=alert"),
    _t("daily_loss_50", cycle_stats("100000", "99000", "97400"), "warning",
       "daily loss at 50% of the cap", "equity 97400 from 100000"),
    _t("daily_loss_80", cycle_stats("100000", "97400", "95900"), "critical",
       "daily loss at 80% of the cap", "equity 95900 from 100000",
       also=("daily loss at 50% of the cap",)),
    _lit("engine/session.py", "session_start",
         {"boot": 3, "run_id": "r-20261202", "identity": {"config": "abc123"}},
         "info", "bot started", "run_id=r-20261202", "boot=3"),
    _lit("engine/live_summary.py", "run_end", {"cycles": 1440, "orders": 12, "fills": 9},
         "info", "bot stopped", "cycles=1440", "fills=9"),
]  # fmt: skip


@dataclass
class Receivers:
    pager: Receiver
    chat: Receiver
    box: Mailbox

    def clear(self) -> None:
        for r in (self.pager, self.chat):
            r.bodies.clear()
            r.raw.clear()
        self.box.messages.clear()
        self.box.raw.clear()

    def count(self) -> int:
        return len(self.pager.bodies) + len(self.chat.bodies) + len(self.box.messages)


@pytest.fixture(scope="module")
def receivers() -> Iterator[Receivers]:
    rx = Receivers(Receiver(), Receiver(), Mailbox().start())
    try:
        yield rx
    finally:
        rx.pager.close()
        rx.chat.close()
        rx.box.stop()


def _config(rx: Receivers) -> Any:
    pager = [rx.pager.url, rx.box.mailto(PAGER_TO)]
    chat = [rx.chat.url, rx.box.mailto(CHAT_TO)]
    return parse_config(
        {
            "name": BOT,
            "risk": {"loss": {"daily_loss": "0.05"}},
            "observe": {
                "poll_s": 0.05,
                "alerts": {
                    "enabled": True,
                    "routes": {"critical": pager, "warning": chat, "info": chat},
                    "retry_base_s": 0.05,
                },
            },
        }
    )


def _mail_text(m: Any) -> str:
    return str(m.get_body(preferencelist=("plain", "html")).get_content())


@pytest.mark.parametrize("trig", TRIGGERS)
def test_each_trigger_arrives_once_on_its_route_over_http_and_smtp(
    trig: Trigger, receivers: Receivers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BASTION_ALERT_URLS", raising=False)
    monkeypatch.setenv("BASTION_TRIG_API_SECRET", CANARY_SECRET)  # the redactor's by-value net
    rx = receivers
    rx.clear()
    folder = tmp_path / "bot"
    journal = Journal(folder / "journal.sqlite")
    journal.append("cycle", wall_ms(), {"cycle": 0})  # history, already read: pages nobody
    journal.flush()
    service = ObserveService(_config(rx), folder, clock=wall_ms).start()
    try:
        trig.produce(Rig(folder, journal))
        want = 1 + len(trig.also)
        assert wait_for(lambda: rx.count() >= 2 * want, 20), (rx.pager.titles(), rx.chat.titles())
        time.sleep(0.4)  # nothing more trickles in
        route, other = (rx.pager, rx.chat) if trig.severity == "critical" else (rx.chat, rx.pager)
        to, other_to = (PAGER_TO, CHAT_TO) if route is rx.pager else (CHAT_TO, PAGER_TO)
        head = f"{BOT}: [{trig.severity.upper()}] {trig.title}"

        mine = [b for b in route.bodies if b.get("title") == head]
        assert len(mine) == 1, (head, route.titles())
        assert not [t for t in other.titles() if t == head], other.titles()
        mails = [m for m in rx.box.messages if str(m["Subject"]) == head]
        assert len(mails) == 1, (head, [str(m["Subject"]) for m in rx.box.messages])
        assert to in str(mails[0]["To"]) and other_to not in str(mails[0]["To"])
        for fact in trig.content:  # with its content, on both channels
            assert fact in mine[0]["message"], (fact, mine[0]["message"])
            assert fact in _mail_text(mails[0]), (fact, _mail_text(mails[0]))
        # nothing else went out: the producer's own companions only, once each
        everything = rx.pager.titles() + rx.chat.titles()
        assert len(everything) == want and len(rx.box.messages) == want, everything
        raw = b"".join(rx.pager.raw + rx.chat.raw + rx.box.raw)
        assert CANARY_SECRET.encode() not in raw
        assert not [m for m in rx.box.messages if CANARY_SECRET in _mail_text(m)]  # decoded too
        for title in trig.also:
            assert sum(title in t for t in everything) == 1, (title, everything)
        # each delivery on record, once per receiver (the journal names the scheme only)
        assert wait_for(lambda: len(list(read_events(folder, kinds=["alert_sent"]))) == 2 * want)
        sent = list(read_events(folder, kinds=["alert_sent"]))
        assert sorted(e["via"] for e in sent) == sorted(["json", "mailto"] * want)
    finally:
        service.stop()
        journal.close()


@pytest.mark.parametrize(
    "module, kind, keys",
    [p.values[0].source for p in TRIGGERS if p.values[0].source is not None],
    ids=[p.id for p in TRIGGERS if p.values[0].source is not None],
)
def test_the_literal_payloads_are_their_producers(module: str, kind: str, keys: tuple) -> None:
    """A renamed kind or field at the producer would silently stop (or empty) a
    page: the kind and every payload key above must be in the producer's source."""
    text = (SRC / module).read_text()
    assert f'"{kind}"' in text, f"{module} no longer journals {kind!r}"
    for key in keys:
        assert f'"{key}"' in text, f"{module} no longer writes {key!r} in {kind!r}"


def test_every_alert_mapping_has_a_trigger_here() -> None:
    """A new mapped kind gets its end-to-end case above (or is named as covered)."""
    from bastion.observe.alerting import TRIGGERS as MAPPED

    covered = {p.values[0].source[1] for p in TRIGGERS if p.values[0].source is not None}
    covered |= {"kill_flag", "kill_done", "heartbeat_lost"}  # produced by the real code
    assert set(MAPPED) <= covered, set(MAPPED) - covered

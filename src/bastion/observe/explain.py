"""``bastion explain``: one order's whole story, read from the journal alone.

Given a client order id, the journal holds everything needed to say why the
order exists and what became of it: the ``context`` of its cycle (the market
view and the account the strategy decided on), the ``strategies`` event of its
run (id, version hash, parameters, the risk rules in review order), the
``cycle`` event (the intents and the plan made of them), its
``risk_decision`` (or, for a protective order, the ``protection`` event that
placed it), every venue event and fill carrying its client id, and the
reconciliation events between its decision and its end. Cycle numbers restart
with each session, so every lookup is bounded by the ``session_start`` the
order belongs to.

Nothing here holds a reference to a bot: it reads the journal read-only (the
journal is the bus), so it works on a running bot's folder, a stopped one's,
or a backtest's.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bastion.observe.journal import find_journal

# Events that say what the bot learned from the exchange about its account.
RECONCILE_KINDS = (
    "reconcile_delta",
    "baseline_recorded",
    "baseline_reloaded",
    "downtime",
    "recovered",
    "stale_cycle",
    "late_report",
    "foreign_order",
    "foreign_fill",
    "journal_backfilled",
)
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class NoSuchOrder(LookupError):
    """The journal has no event carrying this client id."""


@dataclass(slots=True)
class Explanation:
    client_id: str
    mode: str = "live"  # "shadow": decided and reviewed, never sent
    run: dict[str, Any] | None = None  # the session_start event (None in a backtest)
    strategy: dict[str, Any] | None = None  # id, version, name, params, symbols, mode
    rules: list[str] = field(default_factory=list)
    context: dict[str, Any] | None = None  # the cycle's market view (and more)
    account: dict[str, Any] | None = None  # the account the decision was taken on
    cycle: dict[str, Any] | None = None  # intents, plan, skipped
    intent: dict[str, Any] | None = None  # the intent this order was planned from
    planned: list[Any] | None = None  # [client id, side, qty, type, price]
    decision: dict[str, Any] | None = None  # the risk_decision event
    protection: dict[str, Any] | None = None  # why a protective order was placed
    verdicts: list[tuple[str, str]] = field(default_factory=list)  # (rule, verdict)
    events: list[dict[str, Any]] = field(default_factory=list)  # venue events and fills
    fills: list[dict[str, Any]] = field(default_factory=list)
    reconciliations: list[dict[str, Any]] = field(default_factory=list)
    account_after: dict[str, Any] | None = None  # the first account journaled after the end

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rows(db: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
    out = []
    for seq, ts, kind, strategy, symbol, payload in db.execute(sql, args):
        out.append(
            {"seq": seq, "ts": ts, "kind": kind, "strategy": strategy, "symbol": symbol}
            | orjson.loads(payload)
        )
    return out


_COLS = "SELECT seq, ts, kind, strategy, symbol, payload FROM events"


def _one(db: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
    rows = _rows(db, f"{_COLS} WHERE {where} LIMIT 1", args)
    return rows[0] if rows else None


def intent_index(client_id: str) -> int | None:
    """Which intent of its cycle an order was planned from (``…-cycle-intent-leg``)."""
    parts = client_id.split("-")
    if len(parts) < 4:
        return None
    try:
        return int(parts[-2], 36) // 16
    except ValueError:
        return None


def explain(path: str | Path, client_id: str) -> Explanation:
    """Everything the journal at ``path`` knows about ``client_id``."""
    db = sqlite3.connect(f"file:{find_journal(path)}?mode=ro", uri=True)
    try:
        return _explain(db, client_id)
    finally:
        db.close()


def _explain(db: sqlite3.Connection, cid: str) -> Explanation:
    own = [
        e
        for e in _rows(db, f"{_COLS} WHERE payload LIKE ? ORDER BY seq", (f'%"{cid}"%',))
        if e.get("client_id") == cid
    ]
    if not own:
        raise NoSuchOrder(f"no order with client id {cid!r} in this journal")
    first, last = own[0]["seq"], own[-1]["seq"]
    out = Explanation(client_id=cid)
    pre = "shadow_" if own[0]["kind"].startswith("shadow_") else ""  # never sent
    for e in own:
        e["kind"] = e["kind"].removeprefix(pre)
    out.run = _one(db, "kind = 'session_start' AND seq < ? ORDER BY seq DESC", (first,))
    lo = out.run["seq"] if out.run else 0
    strategies = _one(
        db, "kind = 'strategies' AND seq > ? AND seq < ? ORDER BY seq DESC", (lo, first)
    )
    decisions = [e for e in own if e["kind"] == "risk_decision"]
    out.decision = decisions[0] if decisions else None
    placed = [e for e in own if e["kind"] == "protection" and e.get("action") == "place"]
    out.protection = placed[0] if placed else None
    head = out.decision or own[0]
    out.mode = "shadow" if pre else str(head.get("mode", "live"))
    ref = str(head.get("strategy") or "")
    n = head.get("cycle")
    if strategies is not None:
        out.rules = list(strategies.get("rules", []))
        out.strategy = next(
            (s for s in strategies["strategies"] if f"{s['id']}@{s['version']}" == ref), None
        )
    if n is not None:
        _add_cycle(db, out, lo, int(n), ref, pre)
    out.verdicts = verdicts(out.rules, out.decision)
    out.events = [e for e in own if e["kind"] not in ("risk_decision", "fill")]
    out.fills = [e for e in own if e["kind"] == "fill"]
    start = out.context["seq"] if out.context else first
    marks = ",".join("?" * len(RECONCILE_KINDS))
    out.reconciliations = _rows(
        db,
        f"{_COLS} WHERE kind IN ({marks}) AND seq >= ? AND seq <= ? ORDER BY seq",
        (*RECONCILE_KINDS, start, last),
    )
    mine = f"kind = '{pre}context' AND strategy IS ?" if pre else "kind = 'context' AND ? IS NULL"
    has_account = "payload LIKE '%\"account\":%'"
    after = _one(db, f"{mine} AND seq > ? AND {has_account}", (ref if pre else None, last))
    out.account_after = after.get("account") if after else None
    return out


def _add_cycle(
    db: sqlite3.Connection, out: Explanation, lo: int, n: int, ref: str, pre: str
) -> None:
    """The cycle's context (and the account it refers to) and the strategy's cycle
    event; a shadow's (``pre``) are its own: its simulated book's account."""
    in_cycle = "seq > ? AND json_extract(payload, '$.cycle') = ?"
    ctx = f"kind = '{pre}context' AND strategy IS ?" if pre else "kind = 'context'"
    who = (ref,) if pre else ()
    out.context = _one(db, f"{ctx} AND {in_cycle} ORDER BY seq", (*who, lo, n))
    if out.context is not None:
        out.account = out.context.get("account")
        ref_cycle = out.context.get("account_cycle")
        if out.account is None and ref_cycle is not None:
            holder = _one(db, f"{ctx} AND {in_cycle} ORDER BY seq", (*who, lo, ref_cycle))
            out.account = holder.get("account") if holder else None
    where = f"kind = '{pre}cycle' AND {in_cycle} AND strategy = ? ORDER BY seq"
    out.cycle = _one(db, where, (lo, n, ref))
    if out.cycle is None:
        return
    out.planned = next((p for p in out.cycle.get("plan", []) if p[0] == out.client_id), None)
    idx = intent_index(out.client_id)
    intents = out.cycle.get("intents", [])
    if idx is not None and idx < len(intents):
        out.intent = intents[idx]


def verdicts(rules: list[str], decision: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Each rule's verdict, in review order: the journal keeps the rule that
    rejected (or first resized) an order; every rule before it passed it, and
    after a rejection the rest were not asked."""
    if decision is None:
        return []
    verdict, deciding = decision.get("verdict"), decision.get("rule")
    if verdict == "approve" or deciding not in rules:
        return [(r, "pass") for r in rules] if verdict == "approve" else []
    out: list[tuple[str, str]] = []
    reached = True
    for r in rules:
        if r == deciding:
            out.append((r, f"{verdict} {decision.get('reason')}"))
            reached = verdict != "reject"
        else:
            out.append((r, "pass" if reached else "not asked"))
    return out

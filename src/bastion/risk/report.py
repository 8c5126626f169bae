"""The rejection log, summarized: what the gate refused or shrank, and why.

Pure: it takes journal events as dicts (``bastion.observe.journal.read_events``
gives them) and returns counts by reason, strategy and symbol with a few
examples of each reason, plus the flattens and latch changes on record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DECISION_KIND = "risk_decision"
FLATTEN_KIND = "flatten"
LATCH_KIND = "latch"
KINDS = (DECISION_KIND, FLATTEN_KIND, LATCH_KIND)


@dataclass(slots=True)
class RejectionSummary:
    decisions: int = 0  # every decision seen, approvals included
    by_verdict: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    by_strategy: Counter[str] = field(default_factory=Counter)
    by_symbol: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    flattens: list[dict[str, Any]] = field(default_factory=list)
    latch_changes: list[dict[str, Any]] = field(default_factory=list)
    first_ts: int | None = None
    last_ts: int | None = None


def summarize(events: Iterable[dict[str, Any]], *, examples: int = 3) -> RejectionSummary:
    out = RejectionSummary()
    for ev in events:
        kind = ev.get("kind")
        ts = ev.get("ts")
        if isinstance(ts, int):
            out.first_ts = ts if out.first_ts is None else min(out.first_ts, ts)
            out.last_ts = ts if out.last_ts is None else max(out.last_ts, ts)
        if kind == FLATTEN_KIND:
            out.flattens.append(ev)
            continue
        if kind == LATCH_KIND:
            out.latch_changes.append(ev)
            continue
        if kind != DECISION_KIND:
            continue
        out.decisions += 1
        verdict = str(ev.get("verdict"))
        out.by_verdict[verdict] += 1
        if verdict == "approve":
            continue
        reason = str(ev.get("reason"))
        out.by_reason[reason] += 1
        out.by_strategy[str(ev.get("strategy"))] += 1
        out.by_symbol[str(ev.get("symbol"))] += 1
        shown = out.examples.setdefault(reason, [])
        if len(shown) < examples:
            shown.append(ev)
    return out


def _when(ts: int | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _table(title: str, counts: Counter[str]) -> list[str]:
    lines = [f"{title}:"]
    if not counts:
        return [*lines, "  (none)"]
    width = max(len(k) for k in counts)
    lines += [f"  {k.ljust(width)}  {n:>7}" for k, n in counts.most_common()]
    return lines


def render(summary: RejectionSummary) -> str:
    """A plain-text report for the terminal."""
    s = summary
    refused = sum(s.by_reason.values())
    lines = [
        f"risk decisions {s.decisions} from {_when(s.first_ts)} to {_when(s.last_ts)}: "
        f"{s.by_verdict.get('approve', 0)} approved, {s.by_verdict.get('resize', 0)} resized, "
        f"{s.by_verdict.get('reject', 0)} rejected",
        "",
        *_table(f"by reason ({refused})", s.by_reason),
        *_table("by strategy", s.by_strategy),
        *_table("by symbol", s.by_symbol),
    ]
    if s.flattens:
        lines += ["", "flattens:"]
        for ev in s.flattens:
            lines.append(f"  {_when(ev.get('ts'))}  {ev.get('reason')}  {ev.get('details')}")
    if s.latch_changes:
        lines += ["", "latch changes:"]
        for ev in s.latch_changes:
            lines.append(
                f"  {_when(ev.get('ts'))}  {ev.get('previous')} -> {ev.get('state')}"
                f"  by {ev.get('by')}: {ev.get('reason')}"
            )
    if s.examples:
        lines += ["", "examples:"]
        for reason, evs in sorted(s.examples.items()):
            lines.append(f"  {reason}:")
            for ev in evs:
                details = {k: v for k, v in (ev.get("details") or {}).items() if k != "context"}
                lines.append(
                    f"    {_when(ev.get('ts'))} {ev.get('strategy')} {ev.get('symbol')} "
                    f"{ev.get('side')} {ev.get('qty')} -> {ev.get('approved_qty')} "
                    f"[{ev.get('rule')}] {details}"
                )
    return "\n".join(lines)

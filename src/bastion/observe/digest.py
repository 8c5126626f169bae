"""The daily digest: one local day of the journal, as plain text and HTML.

The day is the operator's: midnight to midnight in their time zone, so the
day a clock changes covers 23 or 25 hours. Figures come from the same fold
as the dashboard (``LiveBook`` over the whole journal up to the day's end, so
a trip opened the day before closes with its true PnL) and from the
journal's events inside the day: trades, PnL per strategy, fees, equity
change, risk rejections by reason with examples, alerts, halts,
reconciliation deltas, feed and venue incidents, uptime. Sans-I/O: events in,
text out; ``mailer.py`` sends it.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bastion.model.money import ZERO
from bastion.observe.book import LiveBook
from bastion.observe.live_stats import strategy_stats
from bastion.observe.redact import Redactor

INCIDENT_KINDS = (
    "feed_stale",
    "feed_stalled",
    "feed_switched",
    "feeds_down",
    "feed_error",
    "feed_overflow",
    "stream_error",
    "cycle_failed",
    "schema_drift",
    "feed_schema_drift",
)


def day_window(day: date, tz: str) -> tuple[int, int]:
    """[start, end) of the local ``day`` in UTC ms (23 or 25 hours on a DST change)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def next_send(now_ms: int, tz: str, send_at: str) -> tuple[int, date]:
    """The next send time after ``now_ms`` and the local day that digest covers
    (the day before the send)."""
    zone = ZoneInfo(tz)
    hh, _, mm = send_at.partition(":")
    local = datetime.fromtimestamp(now_ms / 1000, zone)
    day = local.date()
    while True:
        at = datetime.combine(day, time(int(hh), int(mm)), zone)
        ms = int(at.timestamp() * 1000)
        if ms > now_ms:
            return ms, day - timedelta(days=1)
        day += timedelta(days=1)


@dataclass(slots=True)
class Digest:
    day: date
    tz: str
    start: int
    end: int
    hours: float
    fills: int = 0
    round_trips: int = 0
    pnl: dict[str, Decimal] = field(default_factory=dict)  # strategy -> net realised
    fees: dict[str, Decimal] = field(default_factory=dict)
    equity_start: Decimal | None = None
    equity_end: Decimal | None = None
    rejections: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    halts: list[str] = field(default_factory=list)
    deltas: list[str] = field(default_factory=list)
    incidents: Counter[str] = field(default_factory=Counter)
    cycles: int = 0
    uptime_s: float = 0.0
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def total_pnl(self) -> Decimal:
        return sum(self.pnl.values(), ZERO)

    @property
    def total_fees(self) -> Decimal:
        return sum(self.fees.values(), ZERO)

    @property
    def equity_change(self) -> Decimal | None:
        if self.equity_start is None or self.equity_end is None:
            return None
        return self.equity_end - self.equity_start


def _when(ts: int, tz: str) -> str:
    return datetime.fromtimestamp(ts / 1000, ZoneInfo(tz)).strftime("%H:%M:%S")


def build_digest(
    events: Iterable[dict[str, Any]], day: date, tz: str, interval_ms: int = 60_000
) -> Digest:
    start, end = day_window(day, tz)
    seen: list[dict[str, Any]] = []
    d = Digest(day=day, tz=tz, start=start, end=end, hours=(end - start) / 3_600_000)
    book = LiveBook()
    last_cycle: int | None = None
    for e in events:
        ts = int(e["ts"])
        if ts >= end:
            continue
        book.apply(e)
        if e["kind"] in ("fill", "cycle_stats", "cycle"):
            seen.append(e)
        trip = book.last_trip if e["kind"] == "fill" else None
        if trip is not None and start <= trip.exit_ts < end:
            d.round_trips += 1
            d.pnl[trip.strategy_id] = d.pnl.get(trip.strategy_id, ZERO) + trip.net_pnl
        if ts < start:
            continue
        kind = e["kind"]
        if kind == "fill":
            d.fills += 1
            sid, fill = book.fills[-1]
            d.fees[sid] = d.fees.get(sid, ZERO) + fill.fee
        elif kind in ("cycle", "cycle_stats"):
            if kind == "cycle_stats" and e.get("equity") is not None:
                eq = Decimal(e["equity"])
                d.equity_start = eq if d.equity_start is None else d.equity_start
                d.equity_end = eq
            if kind == "cycle":
                d.cycles += 1
                if last_cycle is not None and ts - last_cycle <= 5 * 60_000:
                    d.uptime_s += (ts - last_cycle) / 1000
                last_cycle = ts
        elif kind == "risk_decision" and e.get("verdict") == "reject":
            reason = str(e.get("reason") or "UNKNOWN")
            d.rejections[reason] += 1
            ex = d.examples.setdefault(reason, [])
            if len(ex) < 3:
                ex.append(f"{_when(ts, tz)} {e.get('strategy')} {e.get('side')} "
                          f"{e.get('qty')} {e.get('symbol')}")  # fmt: skip
        elif kind == "latch":
            d.halts.append(f"{_when(ts, tz)} {e.get('previous')} -> {e.get('state')}: "
                           f"{e.get('reason')} (by {e.get('by')})")  # fmt: skip
        elif kind == "reconcile_delta":
            d.deltas.append(f"{_when(ts, tz)} {e.get('symbol')}: venue {e.get('venue')}, "
                            f"expected {e.get('expected')}, delta {e.get('delta')}")  # fmt: skip
        if kind in INCIDENT_KINDS or "failover" in kind:
            d.incidents[kind] += 1
        if e.get("alert"):
            d.alerts.append(f"{_when(ts, tz)} {kind} {e.get('symbol') or ''}".rstrip())
    for sid in d.fees:
        d.pnl.setdefault(sid, ZERO)
    d.stats = dict(strategy_stats(seen, interval_ms=interval_ms, since_ts=start))
    return d


def subject(d: Digest, bot: str) -> str:
    return f"bastion {bot} digest {d.day.isoformat()}: PnL {d.total_pnl}, {d.fills} fills"


def _lines(d: Digest) -> list[tuple[str, list[str]]]:
    change = d.equity_change
    head = [
        f"day {d.day.isoformat()} ({d.tz}), {d.hours:g} hours",
        f"fills {d.fills}, round trips closed {d.round_trips}",
        f"realised PnL {d.total_pnl} (net of fees), fees {d.total_fees}",
        f"equity {d.equity_start} -> {d.equity_end}"
        + (f" (change {change})" if change is not None else ""),
        f"cycles {d.cycles}, uptime {d.uptime_s / 3600:.2f} h",
    ]
    sections: list[tuple[str, list[str]]] = [("Summary", head)]
    sections.append(
        ("PnL per strategy",
         [f"{s}: PnL {p}, fees {d.fees.get(s, ZERO)}" for s, p in sorted(d.pnl.items())]
         or ["no trades"])
    )  # fmt: skip
    stats = []
    for sid, st in sorted(d.stats.items()):
        stats.append(
            f"{sid}: trips {st.get('round_trips')}, win rate {_pct(st.get('win_rate'))}, "
            f"Sharpe {_num(st.get('sharpe'))}, max drawdown {_pct(st.get('max_drawdown'))}, "
            f"exposure {_pct(st.get('exposure'))}, turnover {_num(st.get('turnover'))}"
        )
    sections.append(("Strategy statistics", stats or ["no trades"]))
    rej = []
    for reason, n in d.rejections.most_common():
        rej.append(f"{reason}: {n}")
        rej += [f"  e.g. {x}" for x in d.examples.get(reason, [])]
    sections.append(("Risk rejections", rej or ["none"]))
    sections.append(("Alerts", d.alerts or ["none"]))
    sections.append(("Halts", d.halts or ["none"]))
    sections.append(("Reconciliation deltas", d.deltas or ["none"]))
    sections.append(
        ("Feed and venue incidents",
         [f"{k}: {n}" for k, n in sorted(d.incidents.items())] or ["none"])
    )  # fmt: skip
    return sections


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * float(v):.1f}%"


def _num(v: Any) -> str:
    return "-" if v is None else f"{float(v):.2f}"


def render_text(d: Digest, bot: str = "bastion") -> str:
    out = [subject(d, bot), ""]
    for title, lines in _lines(d):
        out += [title, "-" * len(title), *lines, ""]
    return Redactor().text("\n".join(out))


def render_html(d: Digest, bot: str = "bastion") -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(subject(d, bot))}</title></head>",
        "<body style='font-family:sans-serif'>",
        f"<h1>{html.escape(subject(d, bot))}</h1>",
    ]
    for title, lines in _lines(d):
        parts.append(f"<h2>{html.escape(title)}</h2><ul>")
        parts += [f"<li>{html.escape(line)}</li>" for line in lines]
        parts.append("</ul>")
    parts.append("</body></html>")
    return Redactor().text("".join(parts))

"""What the journal says the bot is doing right now: one fold over its events.

``LiveBook.apply(event)`` takes journal events in seq order and keeps the
figures the dashboard, the metrics and the digest show: PnL per strategy and
symbol (realised from closed round trips, unrealised from the open ones at
the last mark, fees), the equity curve, positions (the bot's share from its
fills, the account from the cycle's health sample), open orders, recent
fills, rejections by reason, the halt latch, alerts, feed and venue health.
Sans-I/O and clock-free: ``snapshot(now)`` is given the time. PnL uses the
backtests' own round-trip code (``TripBook``), so a live figure and a
backtest figure are computed the same way.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bastion.model.money import ZERO
from bastion.model.orders import Fill, Liquidity, Side
from bastion.observe.holdings import Holdings
from bastion.observe.trades import RoundTrip, TripBook
from bastion.observe.windowed import Windowed

DAY_MS = 86_400_000
KEEP_MS = 8 * DAY_MS  # quarter-hour sums kept in memory: the 7-day window and a day
WINDOWS = {"today": None, "7d": 7 * DAY_MS, "all": None}
TERMINAL = {"filled", "cancelled", "rejected", "expired"}
RECENT = 50
EQUITY_POINTS = 5_000
LATENCY_SAMPLES = 2_000
HOLDING_KINDS = {"cycle_stats", "baseline_recorded", "reconcile_delta", "baseline_changed"}
FEED_KINDS = {
    "feed_stale": "stalls",  # the stream went silent and was rebuilt
    "feed_stalled": "stalls",  # a heartbeat missed (primary/fallback feeds)
    "feeds_down": "stalls",
    "feed_error": "errors",
    "feed_overflow": "overflows",
    "feed_switched": "failovers",
}


def strategy_id(ref: str | None) -> str:
    """``trend@1`` → ``trend`` (fills carry the ref, stats group by id)."""
    return (ref or "").split("@", 1)[0]


def fill_of(e: dict[str, Any]) -> Fill:
    return Fill(
        trade_id=str(e["trade_id"]),
        client_id=str(e.get("client_id", "")),
        venue_order_id="",
        symbol=str(e["symbol"]),
        side=Side(e["side"]),
        qty=Decimal(e["qty"]),
        price=Decimal(e["price"]),
        fee=Decimal(e.get("fee") or 0),
        fee_asset="",
        liquidity=Liquidity(e.get("liquidity") or "taker"),
        ts=int(e["ts"]),
    )


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(slots=True)
class Histogram:
    """Every observation since the journal began, in Prometheus's buckets (seconds)."""

    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS_S))
    total: float = 0.0
    n: int = 0

    def observe(self, seconds: float) -> None:
        self.n += 1
        self.total += seconds
        for i, upper in enumerate(BUCKETS_S):
            if seconds <= upper:
                self.counts[i] += 1
                return

    def cumulative(self) -> list[tuple[str, int]]:
        out, running = [], 0
        for upper, c in zip(BUCKETS_S, self.counts, strict=True):
            running += c
            out.append((repr(upper), running))
        out.append(("+Inf", self.n))
        return out


@dataclass(slots=True)
class FeedHealth:
    last_ts: int | None = None  # newest trade the bot had seen, per its last sample
    sampled_ts: int | None = None
    stalls: int = 0
    errors: int = 0
    overflows: int = 0
    failovers: int = 0


@dataclass(slots=True)
class VenueHealth:
    calls: int = 0
    latency_ms: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))
    errors: Counter[str] = field(default_factory=Counter)
    weight: int | None = None
    weight_limit: int | None = None
    http_429: int = 0
    last_reconcile_ts: int | None = None
    reconcile_deltas: int = 0
    last_delta: dict[str, Any] | None = None


class LiveBook:
    """The journal folded into the figures an operator watches."""

    def __init__(self) -> None:
        self.last_seq = 0
        self.trips = TripBook(keep_closed=False)  # the open trips; closed ones are summed
        self.last_trip: RoundTrip | None = None  # closed by the last fill applied, if any
        # (strategy id, fill), the newest RECENT, in journal order: the page's list.
        self.fills: deque[tuple[str, Fill]] = deque(maxlen=RECENT)
        self.fills_total = 0
        # "today" and "7d" from quarter-hour sums, "all" from the running totals.
        self.windows = Windowed(KEEP_MS)
        self.realised: dict[tuple[str, str], Decimal] = {}  # every closed trip's net PnL
        self.fees: dict[tuple[str, str], Decimal] = {}
        self.position: dict[tuple[str, str], Decimal] = {}  # the bot's share, from fills
        self.marks: dict[str, Decimal] = {}
        self.account: dict[str, str] = {}  # the bot's share per symbol, as last reconciled
        self.holdings = Holdings()  # the whole account, the baseline, the bot's share
        self.equity: deque[tuple[int, float]] = deque(maxlen=EQUITY_POINTS)
        self.equity_now: Decimal | None = None
        self.orders: dict[str, dict[str, Any]] = {}  # working orders by client id
        self.orders_by_outcome: Counter[str] = Counter()
        self.rejections: Counter[str] = Counter()
        self.resizes: Counter[str] = Counter()
        self.rejection_examples: dict[str, deque[dict[str, Any]]] = {}
        self.halt: dict[str, Any] = {"state": "ACTIVE", "reason": "", "by": "", "ts": None}
        self.alerts: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self.alerts_total = 0
        self.alerts_sent: Counter[str] = Counter()  # by outcome: sent, failed
        self.cycles = 0
        self._cycle_key: tuple[int, int] | None = None
        self.sessions = 0
        self.last_cycle_ts: int | None = None
        self.cycle_ms: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self.tick_to_order_ms: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self.cycle_hist = Histogram()
        self.tick_hist = Histogram()
        self.cycles_failed = 0
        self.feeds: dict[str, FeedHealth] = {}
        self.venue = VenueHealth()
        self.rebuilds = 0
        self.proc: dict[str, int] = {}  # the bot's threads and asyncio tasks, last sampled
        self.running = False
        self.kinds: Counter[str] = Counter()

    # ------------------------------------------------------------ the fold
    def apply_all(self, events: list[dict[str, Any]]) -> None:
        for e in events:
            self.apply(e)

    def apply(self, e: dict[str, Any]) -> None:
        kind = str(e["kind"])
        self.last_seq = max(self.last_seq, int(e.get("seq") or 0))
        self.kinds[kind] += 1
        if kind in HOLDING_KINDS:
            self.holdings.apply(e)
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, e)
        elif kind.startswith("order_"):
            self._order_event(kind[len("order_") :], e)
        elif "failover" in kind:
            self._feed(e).failovers += 1
        if e.get("alert"):
            self.alerts_total += 1
            self.alerts.append(_brief(e))

    def _session_start(self, e: dict[str, Any]) -> None:
        self.sessions += 1
        self.running = True

    def _run_end(self, e: dict[str, Any]) -> None:
        self.running = False

    def _cycle(self, e: dict[str, Any]) -> None:
        key = (self.sessions, int(e.get("cycle") or 0))
        if key != self._cycle_key:
            self._cycle_key = key
            self.cycles += 1
        self.last_cycle_ts = int(e["ts"])

    def _cycle_failed(self, e: dict[str, Any]) -> None:
        self.cycles_failed += 1

    def _cycle_stats(self, e: dict[str, Any]) -> None:
        ts = int(e["ts"])
        if e.get("cycle_ms") is not None:
            self.cycle_ms.append(float(e["cycle_ms"]))
            self.cycle_hist.observe(float(e["cycle_ms"]) / 1000)
        if e.get("tick_to_order_ms") is not None:
            self.tick_to_order_ms.append(float(e["tick_to_order_ms"]))
            self.tick_hist.observe(float(e["tick_to_order_ms"]) / 1000)
        for sym, mark in (e.get("marks") or {}).items():
            self.marks[sym] = Decimal(mark)
        if e.get("account") is not None:
            self.account = dict(e["account"])
        if e.get("equity") is not None:
            self.equity_now = Decimal(e["equity"])
            self.equity.append((ts, float(self.equity_now)))
        for sym, last in (e.get("feeds") or {}).items():
            fh = self._feed({"symbol": sym})
            fh.last_ts, fh.sampled_ts = (int(last) if last is not None else None), ts
        self.rebuilds = int(e.get("rebuilds") or self.rebuilds)
        self.proc = dict(e.get("proc") or self.proc)
        v = e.get("venue") or {}
        vh = self.venue
        vh.calls += int(v.get("calls") or 0)
        vh.latency_ms.extend(float(x) for x in v.get("latency_ms") or ())
        for cls, n in (v.get("errors") or {}).items():
            vh.errors[cls] += int(n)
        vh.http_429 += int(v.get("http_429") or 0)
        if v.get("weight") is not None:
            vh.weight = int(v["weight"])
        if v.get("weight_limit") is not None:
            vh.weight_limit = int(v["weight_limit"])
        if e.get("reconciled_ts") is not None:
            vh.last_reconcile_ts = int(e["reconciled_ts"])

    def _fill(self, e: dict[str, Any]) -> None:
        sid = strategy_id(e.get("strategy"))
        fill = fill_of(e)
        self.fills.append((sid, fill))
        self.fills_total += 1
        key = (sid, fill.symbol)
        trip = self.last_trip = self.trips.add(sid, fill)
        # Memory holds sums, not the fills (a bot runs for months).
        self.windows.add(key, fill.ts, fees=fill.fee)
        if trip is not None:
            self.realised[key] = self.realised.get(key, ZERO) + trip.net_pnl
            self.windows.add(key, trip.exit_ts, realised=trip.net_pnl)
        self.fees[key] = self.fees.get(key, ZERO) + fill.fee
        self.position[key] = self.position.get(key, ZERO) + fill.signed_qty
        self.marks.setdefault(fill.symbol, fill.price)

    def _order_submitted(self, e: dict[str, Any]) -> None:
        self.orders[str(e["client_id"])] = {
            "client_id": e["client_id"],
            "strategy": strategy_id(e.get("strategy")),
            "symbol": e.get("symbol"),
            "side": e.get("side"),
            "qty": e.get("qty"),
            "price": e.get("price"),
            "type": e.get("type"),
            "status": "new",
            "ts": e["ts"],
        }
        self.orders_by_outcome["submitted"] += 1

    def _order_event(self, status: str, e: dict[str, Any]) -> None:
        cid = str(e.get("client_id"))
        if status in TERMINAL:
            self.orders_by_outcome[status] += 1
            self.orders.pop(cid, None)
        elif cid in self.orders:
            self.orders[cid]["status"] = status
            if status == "unknown":
                self.orders_by_outcome["unknown"] += 1

    def _risk_decision(self, e: dict[str, Any]) -> None:
        verdict = e.get("verdict")
        if verdict == "approve":
            return
        reason = str(e.get("reason") or "UNKNOWN")
        (self.rejections if verdict == "reject" else self.resizes)[reason] += 1
        examples = self.rejection_examples.setdefault(reason, deque(maxlen=3))
        examples.append(
            {k: e.get(k) for k in ("ts", "strategy", "symbol", "side", "qty", "verdict", "rule")}
        )

    def _latch(self, e: dict[str, Any]) -> None:
        self.halt = {
            "state": e.get("state", "ACTIVE"),
            "reason": e.get("reason") or "",
            "by": e.get("by") or "",
            "ts": e["ts"],
        }

    def _reconcile_delta(self, e: dict[str, Any]) -> None:
        self.venue.reconcile_deltas += 1
        self.venue.last_delta = {
            k: e.get(k) for k in ("ts", "symbol", "venue", "expected", "delta")
        }

    def _feed_event(self, e: dict[str, Any]) -> None:
        attr = FEED_KINDS[str(e["kind"])]
        fh = self._feed(e)
        setattr(fh, attr, getattr(fh, attr) + 1)

    def _alert_delivery(self, e: dict[str, Any]) -> None:
        self.alerts_sent["sent" if e["kind"] == "alert_sent" else "failed"] += int(
            e.get("messages") or 1
        )

    def _feed(self, e: dict[str, Any]) -> FeedHealth:
        sym = str(e.get("symbol") or e.get("feed") or "?")
        return self.feeds.setdefault(sym, FeedHealth())

    # ------------------------------------------------------------ the figures
    def exposure(self) -> Decimal | None:
        """Gross exposure of the account as last read (all of it, as the risk
        limits count it), as a fraction of equity."""
        if not self.equity_now:
            return None
        held = self.holdings.holdings
        if held is None:  # a journal from before the samples carried the whole account
            held = {s: Decimal(q) for s, q in self.account.items()}
        gross = sum((abs(q) * self.marks.get(s, ZERO) for s, q in held.items()), ZERO)
        return gross / self.equity_now

    def pnl(self, now: int, day_start: int | None = None) -> dict[str, Any]:
        """Realised, unrealised and fees per strategy and symbol, for each window;
        "today" starts at ``day_start`` (the operator's midnight; UTC's if None)."""
        day_start = now - now % DAY_MS if day_start is None else day_start
        starts = {"today": day_start, "7d": now - 7 * DAY_MS, "all": None}
        open_trips = {(t.strategy_id, t.symbol): t for t in self.trips.open_trips()}
        keys = sorted(set(self.fees) | set(open_trips))
        rows: list[dict[str, Any]] = []
        totals = {w: {"realised": ZERO, "unrealised": ZERO, "fees": ZERO} for w in starts}
        for sid, sym in keys:
            trip = open_trips.get((sid, sym))
            mark = self.marks.get(sym)
            unreal = trip.pnl_at(mark) if trip is not None and mark is not None else ZERO
            row: dict[str, Any] = {"strategy": sid, "symbol": sym}
            for w, start in starts.items():
                if start is None:  # "all": the running totals
                    realised = self.realised.get((sid, sym), ZERO)
                    fees = self.fees.get((sid, sym), ZERO)
                else:  # from the quarter hour holding the window's start
                    fees, realised = self.windows.since((sid, sym), start)
                row[w] = {"realised": str(realised), "unrealised": str(unreal), "fees": str(fees)}
                for name, v in (("realised", realised), ("unrealised", unreal), ("fees", fees)):
                    totals[w][name] += v
            rows.append(row)
        return {
            "rows": rows,
            "total": {w: {k: str(v) for k, v in t.items()} for w, t in totals.items()},
        }

    def snapshot(self, now: int, day_start: int | None = None) -> dict[str, Any]:
        vh = self.venue
        lat = list(vh.latency_ms)
        return {
            "seq": self.last_seq,
            "now": now,
            "running": self.running,
            "halt": self.halt,
            "cycles": self.cycles,
            "cycles_failed": self.cycles_failed,
            "heartbeat_age_s": None
            if self.last_cycle_ts is None
            else round((now - self.last_cycle_ts) / 1000, 1),
            "pnl": self.pnl(now, day_start),
            "equity": None if self.equity_now is None else str(self.equity_now),
            "equity_series": list(self.equity),
            "positions": [
                {"strategy": s, "symbol": sym, "qty": str(q), "mark": _str(self.marks.get(sym))}
                for (s, sym), q in sorted(self.position.items())
            ],
            "account": self.account,
            "holdings": self.holdings.rows({sym for _, sym in self.position}),
            "orders": sorted(self.orders.values(), key=lambda o: o["ts"]),
            "orders_by_outcome": dict(self.orders_by_outcome),
            "fills": [_fill_row(s, f) for s, f in itertools.islice(reversed(self.fills), RECENT)],
            "fills_total": self.fills_total,
            "rejections": dict(self.rejections.most_common()),
            "resizes": dict(self.resizes.most_common()),
            "rejection_examples": {k: list(v) for k, v in self.rejection_examples.items()},
            "alerts": list(self.alerts)[::-1],
            "alerts_total": self.alerts_total,
            "alerts_sent": dict(self.alerts_sent),
            "feeds": {
                sym: {
                    "age_s": None if fh.last_ts is None else round((now - fh.last_ts) / 1000, 1),
                    "stalls": fh.stalls,
                    "errors": fh.errors,
                    "overflows": fh.overflows,
                    "failovers": fh.failovers,
                }
                for sym, fh in sorted(self.feeds.items())
            },
            "rebuilds": self.rebuilds,
            "venue": {
                "calls": vh.calls,
                "latency_p50_ms": percentile(lat, 0.5),
                "latency_p99_ms": percentile(lat, 0.99),
                "errors": dict(vh.errors),
                "weight": vh.weight,
                "weight_limit": vh.weight_limit,
                "http_429": vh.http_429,
                "last_reconcile_ts": vh.last_reconcile_ts,
                "reconcile_deltas": vh.reconcile_deltas,
                "last_delta": vh.last_delta,
            },
        }


def _str(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


def _fill_row(sid: str, f: Fill) -> dict[str, Any]:
    return {
        "ts": f.ts,
        "strategy": sid,
        "symbol": f.symbol,
        "side": f.side.value,
        "qty": str(f.qty),
        "price": str(f.price),
        "fee": str(f.fee),
        "trade_id": f.trade_id,
    }


def _brief(e: dict[str, Any]) -> dict[str, Any]:
    skip = {"seq", "alert", "payload"}
    return {k: v for k, v in e.items() if k not in skip and v is not None}


_HANDLERS = {
    "session_start": LiveBook._session_start,
    "run_end": LiveBook._run_end,
    "cycle": LiveBook._cycle,
    "cycle_failed": LiveBook._cycle_failed,
    "cycle_stats": LiveBook._cycle_stats,
    "fill": LiveBook._fill,
    "order_submitted": LiveBook._order_submitted,
    "risk_decision": LiveBook._risk_decision,
    "latch": LiveBook._latch,
    "reconcile_delta": LiveBook._reconcile_delta,
    **dict.fromkeys(FEED_KINDS, LiveBook._feed_event),
    "alert_sent": LiveBook._alert_delivery,
    "alert_failed": LiveBook._alert_delivery,
}

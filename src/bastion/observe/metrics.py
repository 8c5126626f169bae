"""``/metrics``: the book's figures in Prometheus's text format.

A custom collector reads the book at scrape time (no second bookkeeping, so a
metric cannot drift from the journal): counters are the journal's totals,
gauges its latest values, the cycle and tick-to-order histograms every
sample the journal holds. A registry of its own, never the global one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from bastion.observe.book import LiveBook, percentile

HALT_STATES = ("ACTIVE", "REDUCING", "HALTED")


class BookCollector:
    def __init__(self, read: Callable[[Callable[[LiveBook], Any]], Any], now: Callable[[], int]):
        self._read = read  # runs a function on the book under the service's lock
        self._now = now

    def describe(self) -> list[Metric]:
        return []  # collected at scrape time only

    def collect(self) -> Iterator[Metric]:
        yield from self._read(lambda book: list(_metrics(book, self._now())))


def _metrics(b: LiveBook, now: int) -> Iterator[Metric]:
    yield _counter("bastion_cycles", "Decision cycles run.", b.cycles)
    yield _counter("bastion_cycles_failed", "Cycles the venue made impossible.", b.cycles_failed)
    for name, doc, h in (
        ("bastion_cycle_latency_seconds", "Time one decision cycle took.", b.cycle_hist),
        ("bastion_tick_to_order_seconds", "Closing tick to orders sent.", b.tick_hist),
    ):
        yield HistogramMetricFamily(name, doc, buckets=h.cumulative(), sum_value=h.total)
    orders = CounterMetricFamily("bastion_orders", "Orders by outcome.", labels=["outcome"])
    for outcome, n in sorted(b.orders_by_outcome.items()):
        orders.add_metric([outcome], n)
    yield orders
    yield _counter("bastion_fills", "Fills applied.", b.fills_total)
    rej = CounterMetricFamily("bastion_rejections", "Risk rejections by reason.", labels=["reason"])
    for reason, n in sorted(b.rejections.items()):
        rej.add_metric([reason], n)
    yield rej
    if b.equity_now is not None:
        yield GaugeMetricFamily(
            "bastion_equity", "Account equity at the marks.", float(b.equity_now)
        )
    exposure = b.exposure()
    if exposure is not None:
        yield GaugeMetricFamily("bastion_exposure", "Gross exposure / equity.", float(exposure))
    pos = GaugeMetricFamily(
        "bastion_position", "The bot's position (from its fills).", labels=["strategy", "symbol"]
    )
    for (sid, sym), q in sorted(b.position.items()):
        pos.add_metric([sid, sym], float(q))
    yield pos
    acct = GaugeMetricFamily(
        "bastion_account_position",
        "The account's holding (baseline included).",
        labels=["symbol"],
    )
    share = GaugeMetricFamily(
        "bastion_share_position",
        "The bot's share of the account (the holding minus the baseline).",
        labels=["symbol"],
    )
    base = GaugeMetricFamily(
        "bastion_baseline", "What of the holding is not the bot's.", labels=["symbol"]
    )
    for row in b.holdings.rows():
        sym = str(row["symbol"])
        share.add_metric([sym], float(row["bot"] or 0))
        if row["account"] is not None:
            acct.add_metric([sym], float(row["account"]))
        if row["baseline"] is not None:
            base.add_metric([sym], float(row["baseline"]))
    yield acct
    yield share
    yield base
    age = GaugeMetricFamily(
        "bastion_feed_age_seconds", "Age of the newest trade.", labels=["symbol"]
    )
    stalls = CounterMetricFamily("bastion_feed_stalls", "Feed stalls.", labels=["symbol"])
    for sym, fh in sorted(b.feeds.items()):
        if fh.last_ts is not None:
            age.add_metric([sym], (now - fh.last_ts) / 1000)
        stalls.add_metric([sym], fh.stalls)
    yield age
    yield stalls
    v = b.venue
    lat = GaugeMetricFamily(
        "bastion_venue_latency_seconds", "REST call latency.", labels=["quantile"]
    )
    samples = list(v.latency_ms)
    for quantile in (0.5, 0.99):
        p = percentile(samples, quantile)
        if p is not None:
            lat.add_metric([str(quantile)], p / 1000)
    yield lat
    err = CounterMetricFamily("bastion_venue_errors", "Venue errors by class.", labels=["class"])
    for cls, n in sorted(v.errors.items()):
        err.add_metric([cls], n)
    yield err
    yield _counter("bastion_venue_429", "Rate-limited replies (429/418).", v.http_429)
    if v.weight is not None:
        yield GaugeMetricFamily("bastion_rate_limit_weight", "Request weight used.", v.weight)
    halt = GaugeMetricFamily(
        "bastion_halt_state", "The halt latch (1: this state).", labels=["state"]
    )
    for state in HALT_STATES:
        halt.add_metric([state], 1.0 if b.halt.get("state") == state else 0.0)
    yield halt
    yield GaugeMetricFamily(
        "bastion_halted",
        "1 when the latch is not ACTIVE.",
        0.0 if b.halt.get("state") == "ACTIVE" else 1.0,
    )
    yield _counter("bastion_alerts_raised", "Journal events marked as alerts.", b.alerts_total)
    sent = CounterMetricFamily("bastion_alerts_sent", "Alert deliveries.", labels=["outcome"])
    for outcome in ("sent", "failed"):
        sent.add_metric([outcome], b.alerts_sent.get(outcome, 0))
    yield sent
    for key, name, doc in (
        ("threads", "bastion_threads", "The bot's threads at the last cycle."),
        ("tasks", "bastion_asyncio_tasks", "The bot's asyncio tasks at the last cycle."),
    ):
        if key in b.proc:
            yield GaugeMetricFamily(name, doc, float(b.proc[key]))
    if b.last_cycle_ts is not None:
        yield GaugeMetricFamily(
            "bastion_heartbeat_age_seconds", "Since the last cycle.", (now - b.last_cycle_ts) / 1000
        )


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def registry_for(
    read: Callable[[Callable[[LiveBook], Any]], Any], now: Callable[[], int]
) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(BookCollector(read, now))
    return reg


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)

"""``/metrics`` scraped over HTTP from a bot trading on the emulator, parsed with
prometheus-client's own parser: every value is the journal's."""

from __future__ import annotations

import urllib.request
from decimal import Decimal

import pytest
from observe_support import CANARY_SECRET, TOKEN, free_port, make_bot, step, wait_for
from prometheus_client.parser import text_string_to_metric_families

from bastion.clock import wall_ms
from bastion.config import parse_config
from bastion.observe.journal import read_events
from bastion.observe.service import ObserveService

pytestmark = pytest.mark.slow


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    assert CANARY_SECRET not in text
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_match_the_journal(tmp_path, monkeypatch):
    monkeypatch.setenv("BASTION_DASHBOARD_TOKEN", TOKEN)
    monkeypatch.setenv("BASTION_LIVETEST_API_SECRET", CANARY_SECRET)
    folder = tmp_path / "bot"
    rig = make_bot(folder, balances={"BTC": Decimal("0.5")})  # held before: the baseline
    port = free_port()
    cfg = parse_config({"observe": {"dashboard": {"enabled": True, "port": port}}})
    service = ObserveService(cfg, folder, clock=wall_ms)
    try:
        step(rig, 5)
        service.start()
        url = f"http://127.0.0.1:{port}/metrics"
        events = list(read_events(folder))
        n_fills = sum(e["kind"] == "fill" for e in events)
        assert wait_for(lambda: _fills(url) == n_fills, 15)
        m = scrape(url)
        cycles = {e["cycle"] for e in events if e["kind"] == "cycle"}
        stats = [e for e in events if e["kind"] == "cycle_stats"]
        assert m[("bastion_cycles_total", ())] == len(cycles)
        assert m[("bastion_fills_total", ())] == n_fills
        filled = sum(e["kind"] == "order_filled" for e in events)
        assert m[("bastion_orders_total", (("outcome", "filled"),))] == filled
        assert m[("bastion_orders_total", (("outcome", "submitted"),))] == sum(
            e["kind"] == "order_submitted" for e in events
        )
        assert m[("bastion_equity", ())] == float(Decimal(stats[-1]["equity"]))
        assert m[("bastion_cycle_latency_seconds_count", ())] == len(stats)
        total = sum(e["cycle_ms"] for e in stats) / 1000
        assert m[("bastion_cycle_latency_seconds_sum", ())] == pytest.approx(total)
        pos = sum(
            (
                Decimal(e["qty"]) * (1 if e["side"] == "buy" else -1)
                for e in events
                if e["kind"] == "fill"
            ),
            Decimal(0),
        )
        key = ("bastion_position", (("strategy", "scripted"), ("symbol", "BTC/USDT")))
        assert m[key] == float(pos)
        # the account (baseline included), the baseline, and the bot's share of it
        sym = (("symbol", "BTC/USDT"),)
        held = Decimal(stats[-1]["holdings"]["BTC/USDT"])
        assert m[("bastion_account_position", sym)] == float(held) == float(Decimal("0.5") + pos)
        assert m[("bastion_baseline", sym)] == 0.5
        assert m[("bastion_share_position", sym)] == float(
            Decimal(stats[-1]["account"].get("BTC/USDT", "0"))
        )
        assert m[("bastion_halt_state", (("state", "ACTIVE"),))] == 1.0
        assert m[("bastion_halted", ())] == 0.0
        weights = [e["venue"]["weight"] for e in stats if "weight" in e.get("venue", {})]
        assert m[("bastion_rate_limit_weight", ())] == weights[-1]
        assert ("bastion_venue_latency_seconds", (("quantile", "0.5"),)) in m
        assert m[("bastion_feed_age_seconds", (("symbol", "BTC/USDT"),))] >= 0

        # a rejection and a halt move the metrics the same way they move the journal
        from bastion.engine.latch import change_latch
        from bastion.risk.latch import HaltState

        change_latch(folder, HaltState.HALTED, "metrics test", "tester", wall_ms())
        step(rig, 2)
        events = list(read_events(folder))
        rejected = [e for e in events if e["kind"] == "risk_decision" and e["verdict"] == "reject"]
        reason = rejected[0]["reason"]
        assert wait_for(lambda: scrape(url).get(("bastion_halted", ())) == 1.0, 10)
        m = scrape(url)
        assert m[("bastion_rejections_total", (("reason", reason),))] == sum(
            e["reason"] == reason for e in rejected
        )
    finally:
        service.stop()
        rig.close()


def _fills(url: str) -> float | None:
    try:
        return scrape(url).get(("bastion_fills_total", ()))
    except OSError:
        return None


def test_the_grafana_dashboard_only_uses_metrics_we_serve():
    import json
    import re
    from pathlib import Path

    from bastion.observe.book import LiveBook
    from bastion.observe.metrics import _metrics

    dash = json.loads((Path(__file__).parents[2] / "deploy/grafana/bastion.json").read_text())
    book = LiveBook()
    book.apply({"kind": "cycle_stats", "ts": 1, "seq": 1, "equity": "1", "venue": {"weight": 1},
                "account": {"X/Y": "1"}, "holdings": {"X/Y": "2"}, "marks": {"X/Y": "1"},
                "feeds": {"X/Y": 1}})  # fmt: skip
    book.apply({"kind": "cycle", "ts": 1, "seq": 2, "cycle": 1})
    served = set()
    for fam in _metrics(book, 2):
        served |= {s.name for s in fam.samples} | {fam.name}
        if fam.type == "counter":
            served.add(fam.name + "_total")
    used = set()
    for panel in dash["panels"]:
        for t in panel["targets"]:
            used |= set(re.findall(r"\b(bastion_[a-z0-9_]+)", t["expr"]))
    assert used and used <= served, used - served

"""Archive and verify throughput on a large journal, and a promotion's check.

    .venv/bin/python bench/archive_throughput.py
    .venv/bin/python bench/archive_throughput.py --events 300000

Workload: a data folder whose journal holds ``--events`` events shaped like a
live bot's (a ``cycle_stats`` sample with marks and equity, and every tenth
cycle a ``cycle`` with an intent and a ``risk_decision``), an order store of
1,000 orders and fills, and the latch file. Figures: seconds and events per
second for ``write_archive`` (SQLite backup + Parquet/zstd + sha256 of every
file), ``verify_archive``, and ``promotion.ladder.check`` (reading the
journal's evidence), plus the archive's size against the folder's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bastion.model import Fill, Liquidity, OrderRequest, OrderStatus, OrderType, Side, StrategyRef
from bastion.observe.journal import Journal
from bastion.promotion.evidence import Rules
from bastion.promotion.ladder import check
from bastion.retention.archive import write_archive
from bastion.retention.verify import verify_archive
from bastion.state.orders import OrderStore
from bastion.state.stage import Stage, StageStore

T0 = 1_767_225_600_000
MINUTE = 60_000


def make_folder(folder: Path, events: int) -> None:
    with StageStore(folder) as stage:
        stage.set(Stage.PAPER, ts=T0, reason="bench", by="bench")
    with Journal(folder / "journal.sqlite", flush_every=10_000) as journal:
        journal.append("stage_changed", T0, {"stage": "paper", "previous": None})
        journal.append("session_start", T0, {"boot": 1})
        journal.append("run_stage", T0, {"stage": "paper", "mode": "paper", "size_scale": "1"})
        n = 3
        i = 0
        while n < events:
            ts = T0 + i * MINUTE
            journal.append(
                "cycle_stats",
                ts,
                {"cycle": i, "cycle_ms": 0.4, "marks": {"BTC/USDT": str(60_000 + i % 500)},
                 "equity": "10000.5", "feeds": {"BTC/USDT": ts}, "rebuilds": 0},
            )  # fmt: skip
            n += 1
            if i % 10 == 0 and n + 2 <= events:
                intent = {"symbol": "BTC/USDT", "qty": "0.01", "kind": "target_position"}
                journal.append(
                    "cycle", ts, {"cycle": i, "strategy": "sma@abc", "intents": [intent]}
                )
                journal.append("risk_decision", ts, {"cycle": i, "client_id": f"c{i}",
                                                     "verdict": "approve"})  # fmt: skip
                n += 2
            i += 1
    store = OrderStore(folder / "state.sqlite")
    for k in range(1_000):
        req = OrderRequest(
            client_id=f"c{k}", strategy=StrategyRef(id="sma", version="abc"), symbol="BTC/USDT",
            side=Side.BUY if k % 2 == 0 else Side.SELL, qty=Decimal("0.01"),
            type=OrderType.MARKET, cycle=k,
        )  # fmt: skip
        store.save_order(req, OrderStatus.FILLED, T0 + k * MINUTE)
        store.record_fill(
            Fill(
                trade_id=f"t{k}", client_id=f"c{k}", venue_order_id=f"v{k}", symbol="BTC/USDT",
                side=req.side, qty=req.qty, price=Decimal("60000.1"), fee=Decimal("0.6"),
                fee_asset="USDT", liquidity=Liquidity.TAKER, ts=T0 + k * MINUTE,
            )
        )  # fmt: skip
    store.close()


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-archive-"))
    try:
        folder = tmp / "bot"
        make_folder(folder, args.events)
        t = time.perf_counter()
        path = write_archive(folder, tmp / "out", now_ms=T0, bot="bench")
        archive_s = time.perf_counter() - t
        t = time.perf_counter()
        verified = verify_archive(path)
        verify_s = time.perf_counter() - t
        assert verified.ok, verified.problems
        t = time.perf_counter()
        evidence = check(folder, Stage.LIVE_SMALL, Rules(days=14, max_gap_ms=4 * MINUTE))
        check_s = time.perf_counter() - t
        figures = {
            "events": args.events,
            "archive_s": round(archive_s, 2),
            "archive_events_per_s": round(args.events / archive_s),
            "verify_s": round(verify_s, 2),
            "promote_check_s": round(check_s, 2),
            "promote_check_events_per_s": round(args.events / check_s),
            "paper_days_found": round(evidence.running_days, 2),
            "folder_mb": round(_size(folder) / 1e6, 1),
            "archive_mb": round(_size(path) / 1e6, 1),
        }
        print(json.dumps(figures, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

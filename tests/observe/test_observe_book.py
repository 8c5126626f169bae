"""The live book's windows: "today" is the operator's day, the 7-day and all
windows count what the journal holds; PnL is the round trips' own."""

from __future__ import annotations

from datetime import date

from bastion.observe.book import LiveBook
from bastion.observe.digest import day_window


def _fill(seq: int, ts: int, side: str, price: str, fee: str = "1") -> dict:
    return {"seq": seq, "ts": ts, "kind": "fill", "trade_id": str(seq), "client_id": "c",
            "strategy": "s@1", "symbol": "X/USD", "side": side, "qty": "1", "price": price,
            "fee": fee}  # fmt: skip


def test_today_starts_at_the_operators_midnight():
    start, _ = day_window(date(2026, 3, 29), "Europe/Berlin")  # 2026-03-28T23:00Z
    book = LiveBook()
    book.apply_all([
        _fill(1, start - 3_600_000, "buy", "100"), _fill(2, start - 1_000, "sell", "110"),  # 28th
        _fill(3, start + 1_000, "buy", "100"), _fill(4, start + 2_000, "sell", "105"),  # today
    ])  # fmt: skip
    now = start + 3_600_000
    local = book.pnl(now, day_start=start)["total"]
    assert local["today"] == {"realised": "3", "unrealised": "0", "fees": "2"}
    assert local["all"] == {"realised": "11", "unrealised": "0", "fees": "4"}
    utc = book.pnl(now)["total"]  # UTC's day starts an hour later: both trips are "yesterday"
    assert utc["today"] == {"realised": "0", "unrealised": "0", "fees": "0"}
    assert book.pnl(start + 8 * 86_400_000, day_start=start)["total"]["7d"]["realised"] == "0"

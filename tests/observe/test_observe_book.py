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


def test_the_baseline_on_the_page_is_the_stores_after_each_kind_of_change(tmp_path):
    """First start (the reconciler's event), an unexplained deposit, and the
    operator's ``bastion account baseline``: the fold of the journal equals the
    baseline store every time."""
    from decimal import Decimal

    from typer.testing import CliRunner

    from bastion.cli import app
    from bastion.observe.holdings import Holdings
    from bastion.observe.journal import Journal, read_events
    from bastion.state.baseline import AssetShare, BaselineStore

    data = tmp_path / "data"
    cfg = tmp_path / "bot.toml"
    cfg.write_text(f'data_dir = "{data}"\n', encoding="utf-8")
    with BaselineStore(data) as store, Journal(data / "journal.sqlite") as journal:
        # as the reconciler records and absorbs them (state/reconciler.py)
        store.save({"BTC": AssetShare(baseline=Decimal("0.25"))}, ts=1, reason="first", by="bot")
        journal.append(
            "baseline_recorded",
            1,
            {
                "holdings": {"BTC": "0.25", "USDT": "1000"},
                "baseline": {"BTC": "0.25", "USDT": "1000"},
                "adopted": {},
                "adopt": [],
            },
        )
        store.save({"BTC": AssetShare(baseline=Decimal("0.30"))}, ts=2, reason="delta", by="bot")
        journal.append(
            "reconcile_delta",
            2,
            {
                "asset": "BTC",
                "symbol": "BTC/USDT",
                "delta": "0.05",
                "baseline": "0.30",
                "adopted": "0",
                "alert": True,
            },
        )
        journal.append("cycle_stats", 3, {"account": {"BTC/USDT": "0.01"},
                       "holdings": {"BTC/USDT": "0.31"}})  # fmt: skip

    def folded() -> list[dict]:
        h = Holdings()
        for e in read_events(data):
            h.apply(e)
        return h.rows()

    assert folded() == [{"symbol": "BTC/USDT", "asset": "BTC", "account": "0.31",
                         "baseline": "0.30", "adopted": "0", "bot": "0.01"}]  # fmt: skip
    out = CliRunner().invoke(app, ["account", "baseline", "--config", str(cfg), "--asset", "btc",
                                   "--set", "0.1", "--reason", "hand the bot 0.2"])  # fmt: skip
    assert out.exit_code == 0, out.output
    with BaselineStore(data) as store:
        share = store.load()["BTC"]
    (row,) = folded()
    assert (Decimal(row["baseline"]), Decimal(row["adopted"])) == (share.baseline, share.adopted)
    assert share.adopted == Decimal("0.2")

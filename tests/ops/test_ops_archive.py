"""Seven-year retention on a real bot's folder (the seeded paper bot of
``simbot``: journal, order store, latch and baseline, paper book, recorded
trades): archive, verify, flip a byte, verify names the file; prune refuses
what retention keeps unless a verified archive holds it; the fills export."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.ops.simbot import T0, run_days
from typer.testing import CliRunner

from bastion.cli import app
from bastion.retention.archive import write_archive
from bastion.retention.prune import plan_prune, retention_cutoff
from bastion.retention.verify import verify_archive
from bastion.state.orders import ORDERS_SCHEMA

DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def bot(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bot") / "data"
    run_days(folder, 2, start=T0, seed=5)
    (folder / "killswitch-audit.jsonl").write_text('{"kill": "drill"}\n')
    return folder


def _cli(*argv: str):
    return CliRunner().invoke(app, [str(a) for a in argv])


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "bot.toml"
    path.write_text(
        'name = "taxbot"\n[[strategies]]\nname = "sma_cross"\nsymbols = ["SYN/USDT"]\n'
        'params = { fast = 3, slow = 8, qty = "0.5" }\n'
    )
    return path


def _archive(bot: Path, tmp_path: Path) -> Path:
    result = _cli("archive", bot, "--out", tmp_path / "archives", "--config", _config(tmp_path))
    assert result.exit_code == 0, result.output
    (path,) = (tmp_path / "archives").iterdir()
    return path


def test_an_archive_holds_every_table_the_recorded_data_configs_and_sources(bot, tmp_path):
    path = _archive(bot, tmp_path)

    manifest = json.loads((path / "manifest.json").read_text())
    assert path.name.startswith("taxbot-") and path.name.endswith("Z")
    assert set(manifest["databases"]) == {
        "journal.sqlite", "state.sqlite", "latch.sqlite", "paper.sqlite"
    }  # fmt: skip
    db = sqlite3.connect(bot / "journal.sqlite")
    events = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    db.close()
    table = pq.read_table(path / "tables/journal/events.parquet")
    tables = manifest["databases"]["journal.sqlite"]["tables"]
    assert table.num_rows == events == tables["events"]["rows"]
    orders = pq.ParquetFile(path / "tables/state/orders.parquet").metadata
    assert orders.row_group(0).column(0).compression == "ZSTD"
    assert manifest["databases"]["state.sqlite"]["user_version"] == ORDERS_SCHEMA.version
    for rel in ("recorded/2026-01-01", "recorded/2026-01-02"):
        assert any(f.startswith(rel) for f in manifest["files"])
    assert manifest["configs"] == ["bot.toml"]
    (strat,) = manifest["strategies"]
    assert strat["in_journal"] and strat["source"].startswith("strategies/")
    assert (path / strat["source"]).read_bytes().startswith(b'"""')
    assert "files/killswitch-audit.jsonl" in manifest["files"]
    assert all(len(meta["sha256"]) == 64 for meta in manifest["files"].values())


def test_round_trip_archive_verify_flip_one_byte_verify_names_the_file(bot, tmp_path):
    path = _archive(bot, tmp_path)
    assert _cli("archive", "verify", path).exit_code == 0

    victim = path / "tables/state/fills.parquet"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    result = _cli("archive", "verify", path)

    assert result.exit_code == 1
    assert "tables/state/fills.parquet: sha256" in result.output
    assert result.output.count("  - ") == 1  # only that file


def test_verify_names_a_missing_file_an_extra_file_and_a_changed_manifest(bot, tmp_path):
    path = _archive(bot, tmp_path)
    (path / "recorded/2026-01-01").iterdir().__next__().unlink()
    (path / "stray.txt").write_text("x")
    manifest = path / "manifest.json"
    manifest.write_bytes(manifest.read_bytes().replace(b'"format"', b'"formaT"', 1))

    result = _cli("archive", "verify", path)

    assert result.exit_code == 1
    assert "recorded/2026-01-01/" in result.output and ": missing" in result.output
    assert "stray.txt: not in the manifest" in result.output
    assert "manifest.json: sha256" in result.output


def test_prune_refuses_young_data_then_accepts_it_once_a_verified_archive_holds_it(bot, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(bot, folder)
    files = sorted((folder / "recorded").rglob("*.parquet"))

    refused = _cli("prune", folder, "--before", "2026-01-03")
    assert refused.exit_code == 1 and "prune refused: nothing deleted" in refused.output
    assert "inside the 7-year retention" in refused.output
    assert sorted((folder / "recorded").rglob("*.parquet")) == files

    path = _archive(folder, tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(path, broken)
    (broken / "manifest.sha256").write_text("0" * 64 + "  manifest.json\n")
    still = _cli("prune", folder, "--before", "2026-01-03", "--archive", broken)
    assert still.exit_code == 1 and "does not verify" in still.output

    done = _cli("prune", folder, "--before", "2026-01-03", "--archive", path)
    assert done.exit_code == 0, done.output
    assert not list((folder / "recorded").rglob("*.parquet"))
    assert (folder / "journal.sqlite").is_file()  # the journal is never pruned


def test_past_retention_goes_without_an_archive(bot):
    now = T0 + 8 * 365 * DAY_MS
    plan = plan_prune(bot, datetime.fromtimestamp(now / 1000, tz=UTC).date(), now_ms=now, years=7)
    assert plan.ok and len(plan.delete) == 2
    assert plan_prune(bot, plan.cutoff, now_ms=now, years=9).refused  # 9 years keeps them


def test_retention_cutoff_on_a_leap_day() -> None:
    from datetime import date

    assert retention_cutoff(date(2028, 2, 29), 7) == date(2021, 2, 28)


def test_fills_export_has_every_column_in_utc_and_local_time(bot, tmp_path):
    out = tmp_path / "fills.csv"
    result = _cli("fills", "export", bot, "--out", out, "--tz", "America/New_York")

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    db = sqlite3.connect(bot / "state.sqlite")
    stored = db.execute("SELECT trade_id, qty, price, fee FROM fills ORDER BY ts").fetchall()
    db.close()
    assert [r["trade_id"] for r in rows] == [s[0] for s in stored] and rows
    first = rows[0]
    assert first["time_utc"].endswith("Z") and first["time_local"].endswith("-05:00")
    assert Decimal(first["quote_value"]) == Decimal(first["quantity"]) * Decimal(first["price"])
    assert first["strategy"].startswith("sma_cross@") and first["order_id"]
    assert first["fee_asset"] and first["side"] in ("buy", "sell")


def test_fills_export_refuses_a_bad_zone_in_one_line(bot, tmp_path):
    result = _cli("fills", "export", bot, "--out", tmp_path / "f.csv", "--tz", "Mars/Olympus")
    assert result.exit_code == 2 and result.output.strip().count("\n") == 0
    assert "Mars/Olympus" in result.output and not (tmp_path / "f.csv").exists()


def test_a_second_archive_in_the_same_second_is_refused_not_overwritten(bot, tmp_path):
    first = write_archive(bot, tmp_path, now_ms=T0, bot="b")
    with pytest.raises(ValueError, match="exists already"):
        write_archive(bot, tmp_path, now_ms=T0, bot="b")
    assert first.is_dir()


@pytest.fixture(scope="module")
def archived(bot, tmp_path_factory) -> Path:
    return write_archive(bot, tmp_path_factory.mktemp("archives"), now_ms=T0, bot="prop")


@settings(max_examples=25, deadline=None)
@given(pick=st.integers(min_value=0), offset=st.integers(min_value=0), bit=st.integers(0, 7))
def test_any_flipped_bit_of_any_file_is_named_and_only_that_file(archived, pick, offset, bit):
    files = sorted(p for p in archived.rglob("*") if p.is_file())
    victim = files[pick % len(files)]
    original = victim.read_bytes()
    data = bytearray(original)
    data[offset % len(data)] ^= 1 << bit
    victim.write_bytes(bytes(data))
    try:
        problems = verify_archive(archived).problems
    finally:
        victim.write_bytes(original)

    rel = victim.relative_to(archived).as_posix()
    assert problems, rel
    if rel == "manifest.sha256":  # the manifest's own hash: the manifest no longer matches it
        assert all("manifest" in p for p in problems)
    elif rel == "manifest.json":
        assert problems[0].startswith("manifest.json")
    else:
        assert problems == (problems[0],) and problems[0].startswith(f"{rel}: ")
    assert verify_archive(archived).ok


def test_a_running_bots_uncheckpointed_writes_are_archived(tmp_path):
    from bastion.observe.journal import Journal

    folder = tmp_path / "live"
    journal = Journal(folder / "journal.sqlite")  # held open, as by a running bot
    for i in range(100):
        journal.append("cycle_stats", T0 + i, {"cycle": i})
    journal.flush()
    try:
        assert (folder / "journal.sqlite-wal").stat().st_size > 0  # the rows are in the WAL
        path = write_archive(folder, tmp_path / "out", now_ms=T0, bot="live")
    finally:
        journal.close()

    assert pq.read_table(path / "tables/journal/events.parquet").num_rows == 100
    assert verify_archive(path).ok


def test_local_time_follows_the_zone_across_a_dst_change(tmp_path):
    from bastion.model import Fill, Liquidity, OrderRequest, OrderStatus, OrderType, Side
    from bastion.model.orders import StrategyRef
    from bastion.state.orders import OrderStore

    folder = tmp_path / "dst"
    store = OrderStore(folder / "state.sqlite")
    change = 1_772_953_200_000  # 2026-03-08T07:00:00Z: 02:00 EST becomes 03:00 EDT
    for k, ts in enumerate((change - 60_000, change + 60_000)):
        req = OrderRequest(
            client_id=f"c{k}", strategy=StrategyRef(id="s", version="v1"), symbol="BTC/USD",
            side=Side.BUY, qty=Decimal("0.1"), type=OrderType.MARKET, cycle=k,
        )  # fmt: skip
        store.save_order(req, OrderStatus.FILLED, ts)
        store.record_fill(
            Fill(trade_id=f"t{k}", client_id=f"c{k}", venue_order_id="", symbol="BTC/USD",
                 side=Side.BUY, qty=Decimal("0.1"), price=Decimal("70000.01"),
                 fee=Decimal("0.7"), fee_asset="USD", liquidity=Liquidity.TAKER, ts=ts)
        )  # fmt: skip
    store.close()

    result = _cli("fills", "export", folder, "--out", "-", "--tz", "America/New_York")

    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["time_local"] for r in rows] == [
        "2026-03-08T01:59:00.000-05:00",
        "2026-03-08T03:01:00.000-04:00",
    ]
    assert rows[0]["quote_value"] == "7000.001" and rows[0]["strategy"] == "s@v1"

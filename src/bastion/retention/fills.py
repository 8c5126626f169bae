"""The bot's fills as a CSV for tax records.

Read from the order store (``state.sqlite``, read-only): the fills the bot
applied, each joined to its order for the exchange's order id and the
strategy (``id@version``) that placed it. Times are given in UTC and in the
operator's IANA zone (DST included: the offset is the one of that instant);
quantities, prices, fees and the quote value (quantity × price) are the exact
decimals the store holds, never floats.
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bastion.dbschema import check_readable
from bastion.retention.errors import RetentionError
from bastion.state.orders import ORDERS_SCHEMA

ORDER_STORE = "state.sqlite"
COLUMNS = (
    "time_utc", "time_local", "symbol", "side", "quantity", "price", "fee", "fee_asset",
    "quote_value", "order_id", "client_id", "trade_id", "strategy", "liquidity",
)  # fmt: skip


class FillsExportError(RetentionError):
    """The folder or the options cannot give a fills export."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise FillsExportError(
            f"--tz {name!r}: unknown IANA time zone (e.g. 'UTC', 'Europe/Berlin')"
        ) from None


def fill_rows(
    folder: Path, tz: ZoneInfo, *, since_ms: int | None = None, until_ms: int | None = None
) -> Iterator[dict[str, str]]:
    """One row per fill, oldest first, ``since_ms <= ts < until_ms``."""
    path = folder / ORDER_STORE
    if not path.is_file():
        raise FillsExportError(
            f"{folder}: no order store ({ORDER_STORE}): fills are exported from the data "
            "folder of a paper or live bot"
        )
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
    try:
        check_readable(db, ORDERS_SCHEMA, path)
        sql = (
            "SELECT f.ts, f.symbol, f.side, f.qty, f.price, f.fee, f.fee_asset, o.venue_id,"
            " f.client_id, f.trade_id, o.strategy, o.version, f.liquidity"
            " FROM fills f LEFT JOIN orders o ON o.client_id = f.client_id"
            " WHERE f.ts >= ? AND f.ts < ? ORDER BY f.ts, f.rowid"
        )
        bounds = (since_ms if since_ms is not None else -(2**62), until_ms or 2**62)
        for row in db.execute(sql, bounds):
            ts, sym, side, qty, price, fee, fee_asset, venue_id, cid, tid, sid, ver, liq = row
            when = datetime.fromtimestamp(ts / 1000, tz=UTC)
            yield {
                "time_utc": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "time_local": when.astimezone(tz).isoformat(timespec="milliseconds"),
                "symbol": sym,
                "side": side,
                "quantity": qty,
                "price": price,
                "fee": fee,
                "fee_asset": fee_asset,
                "quote_value": str(Decimal(qty) * Decimal(price)),
                "order_id": venue_id or "",
                "client_id": cid,
                "trade_id": tid,
                "strategy": f"{sid}@{ver}" if sid else "",
                "liquidity": liq,
            }
    finally:
        db.close()


def write_fills_csv(rows: Iterator[dict[str, str]], out: IO[str]) -> int:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    n = 0
    for row in rows:
        writer.writerow(row)
        n += 1
    return n

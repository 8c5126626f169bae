"""Read a recorded tape for the slippage calibration: Binance spot combined-
stream lines (``<receive ns> <message>``, gzip JSON lines, as in
``../shared/data/ticks``), trades and book tickers of one symbol.

Everything is put on the receive clock (ms), the one clock both streams
share; trades repeated across two files are kept once (by trade id).
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import orjson

from bastion.data.book import BookState, OrderBook
from bastion.data.errors import DataError
from bastion.research.calibrate import Ladder, Tape

LADDER_LEVELS = 1_000


def _ladder(book: OrderBook, ts: int) -> Ladder:
    bids, asks = book.levels("bids", LADDER_LEVELS), book.levels("asks", LADDER_LEVELS)
    return Ladder(
        ts,
        np.array([p for p, _ in bids]),
        np.array([q for _, q in bids]),
        np.array([p for p, _ in asks]),
        np.array([q for _, q in asks]),
    )


def read_tape(
    paths: Sequence[str | Path], symbol: str | None = None, every_ms: int = 5_000
) -> Tape:
    """The trades and book tops of ``symbol`` (e.g. ``BTC/USDT``; default: the
    first stream's) in ``paths``; and, where a depth snapshot and its diffs
    were recorded, the rebuilt book's best levels every ``every_ms``. A file's
    snapshot line (``lastUpdateId``) is taken to be its symbol's."""
    want = symbol.replace("/", "").lower() if symbol else None
    trades: dict[int, tuple[int, float, float, bool]] = {}
    tops: list[tuple[int, float, float]] = []
    ladders: list[Ladder] = []
    book = OrderBook(symbol or "?")
    next_sample = 0
    for path in paths:
        p = Path(path)
        try:
            with gzip.open(p, "rb") if p.suffix == ".gz" else p.open("rb") as fh:
                for n, line in enumerate(fh, 1):
                    head, _, body = line.partition(b" ")
                    if not body.strip():
                        continue
                    try:
                        msg = orjson.loads(body)
                        t_ms = int(head) // 1_000_000
                    except (orjson.JSONDecodeError, ValueError):
                        raise DataError(
                            f"a '<receive ns> <stream JSON>' line at line {n}", path=p
                        ) from None
                    if isinstance(msg, dict) and "lastUpdateId" in msg:
                        book.load_snapshot(
                            int(msg["lastUpdateId"]), msg.get("bids", []),
                            msg.get("asks", []), t_ms,
                        )  # fmt: skip
                        continue
                    if not isinstance(msg, dict) or "stream" not in msg:
                        continue  # another recording's line
                    stream, data = str(msg["stream"]), msg.get("data") or {}
                    sym, _, kind = stream.partition("@")
                    if want is None:
                        want = sym
                    if sym != want:
                        continue
                    if kind == "trade":
                        trades[int(data["t"])] = (
                            t_ms, float(data["p"]), float(data["q"]), bool(data["m"]),
                        )  # fmt: skip
                    elif kind == "bookTicker":
                        tops.append((t_ms, float(data["b"]), float(data["a"])))
                    elif kind.startswith("depth"):
                        book.apply(
                            int(data["U"]), int(data["u"]), data.get("b", []),
                            data.get("a", []), t_ms,
                        )  # fmt: skip
                        if book.state is BookState.LIVE and t_ms >= next_sample:
                            if not book.crossed():
                                ladders.append(_ladder(book, t_ms))
                            next_sample = t_ms + every_ms
        except OSError as exc:
            raise DataError(f"a readable tape file ({exc.strerror or exc})", path=p) from None
    if not trades:
        raise DataError(f"trades of {symbol or 'any symbol'} (none found)", path=Path(paths[0]))
    rows = sorted(trades.values(), key=lambda r: r[0])
    tops.sort(key=lambda r: r[0])
    return Tape(
        ts=np.array([r[0] for r in rows], dtype=np.int64),
        price=np.array([r[1] for r in rows]),
        qty=np.array([r[2] for r in rows]),
        buyer_maker=np.array([r[3] for r in rows], dtype=bool),
        top_ts=np.array([r[0] for r in tops], dtype=np.int64),
        bid=np.array([r[1] for r in tops]),
        ask=np.array([r[2] for r in tops]),
        ladders=ladders,
    )

"""A live session's SQLite connections keep a small page cache.

SQLite's default cache (about 2 MB a connection) fills page by page as a file
grows, so a bot's memory rose through its first hour or so (issue 17's soak:
SQLite's own allocations 0.6 -> 2.8 MB in ten minutes and still climbing).
The journal and the order store of a session now cap theirs; SQLite's memory
is read through its own counter, ``sqlite3_memory_used`` of the library
Python's sqlite3 module is linked against (a shared library here)."""

from __future__ import annotations

import ctypes
import ctypes.util
from decimal import Decimal

import pytest

from bastion.config import parse_config
from bastion.engine.live import build_strategies
from bastion.engine.session import SESSION_CACHE_KIB, open_session
from bastion.model import Instrument
from bastion.observe.journal import Journal
from bastion.venues.sim import SimVenue

T0 = 1_780_000_000_000


def sqlite_memory():
    name = ctypes.util.find_library("sqlite3")
    if name is None:
        pytest.skip("no shared libsqlite3: Python's sqlite3 may link it statically")
    lib = ctypes.CDLL(name)
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return lib.sqlite3_memory_used


@pytest.mark.parametrize("cache_kib, most_mb", [(None, None), (256, 0.6)])
def test_a_capped_journal_stays_small_however_large_the_file(tmp_path, cache_kib, most_mb):
    used = sqlite_memory()
    before = used()
    with Journal(tmp_path / "j.sqlite", cache_kib=cache_kib) as j:
        for i in range(20_000):  # about 7 MB of file
            j.append("cycle_stats", T0 + i, {"x": "y" * 300, "i": i})
        grown = (used() - before) / 2**20
        if most_mb is None:
            assert grown > 1.5  # SQLite's default: the cache fills with the file
        else:
            assert grown < most_mb, grown


def test_a_sessions_journal_and_order_store_cap_their_caches(tmp_path):
    sma = {"name": "sma_cross", "symbols": ["BTC/USDT"], "params": {"fast": 3, "slow": 8}}
    config = parse_config({"strategies": [sma]})
    venue = SimVenue([Instrument.spot("BTC/USDT")], {"USDT": Decimal(100_000)})
    session = open_session(
        data_dir=tmp_path, venue=venue, strategies=build_strategies(config), config=config,
        intervals={"BTC/USDT": 60_000}, now=T0,
    )  # fmt: skip
    try:
        for db in (session.journal._db, session.store._db):
            assert db.execute("PRAGMA cache_size").fetchone()[0] == -SESSION_CACHE_KIB
    finally:
        session.close()

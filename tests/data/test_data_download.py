"""``bastion download`` against the emulator serving the real bar files as its
history, through the real ccxt client with its rate limiter on: the store
equals the served bars row for row, also after a download killed for real
(SIGKILL of the ``bastion download`` process) is resumed; a hole in the
exchange's history (three minutes cut from the file it serves) is reported as
a gap and not filled."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bastion.cli import app
from bastion.data import catalog
from bastion.data.download import download, plan_ranges
from bastion.data.loaders import load_bars
from bastion.data.paths import shared_data_dir
from bastion.data.store import SeriesKey, read_series
from bastion.emulator import Emulator, EmulatorConfig
from bastion.model.bars import BarSeries
from bastion.venues.ccxt.client import make_exchange

ETH = "binance_ETH_USDT_1m_2024-07-26_2024-08-25.parquet"
KEY = SeriesKey("binance", "ETH/USDT", "1m")
START = 1_722_470_400_000  # 2024-08-01
END = 1_723_161_600_000  # 2024-08-09
HOLE = 1_722_816_000_000  # 2024-08-05 00:00, the crash day: three minutes cut from here
NOW = 1_800_000_000_000


def _file() -> Path:
    root = shared_data_dir()
    path = root / "ohlcv" / ETH if root is not None else Path(ETH)
    if not path.is_file():
        pytest.skip(f"real bars {ETH} not found (set BASTION_DATA_DIR)")
    return path


def _with_hole(path: Path, tmp: Path) -> Path:
    """The real file minus three minutes: the exchange's history has a hole."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    ts = table.column("ts").to_numpy()
    out = tmp / ETH
    pq.write_table(table.filter((ts < HOLE) | (ts >= HOLE + 3 * 60_000)), out)
    return out


def _served(path: Path, lo: int, hi: int) -> BarSeries:
    s = load_bars(path)
    i, j = np.searchsorted(s.ts, [lo, hi])
    return s.slice(int(i), int(j))


def assert_rows_equal(got: BarSeries, want: BarSeries) -> None:
    assert len(got) == len(want)
    for col in ("ts", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(got, col), getattr(want, col), err_msg=col)


async def _emulator(path: Path) -> Emulator:
    emu = Emulator(EmulatorConfig(source="none", history_paths=(path,), admin_port=None))
    await emu.start()
    return emu


def test_plan_ranges_fetches_only_what_is_not_stored() -> None:
    assert plan_ranges(0, 100, 10, None) == [(0, 100)]
    assert plan_ranges(0, 100, 10, (0, 40)) == [(50, 100)]
    assert plan_ranges(0, 100, 10, (30, 90)) == [(0, 30)]
    assert plan_ranges(0, 100, 10, (0, 90)) == []


def test_download_through_ccxt_equals_the_served_bars_and_reports_the_real_gap(
    tmp_path: Path,
) -> None:
    path = _with_hole(_file(), tmp_path)

    async def go() -> tuple[object, object]:
        emu = await _emulator(path)
        ex = make_exchange("binance", base_url=emu.url, rate_limit=True)
        try:
            first = await download(ex, tmp_path / "s", KEY, START, END, now=NOW)
            again = await download(ex, tmp_path / "s", KEY, START, END, now=NOW)
        finally:
            await ex.close()
            await emu.stop()
        return first, again

    first, again = asyncio.run(go())

    want = _served(path, START, END)
    assert_rows_equal(read_series(tmp_path / "s", KEY), want)
    assert first.added == len(want) and first.pages >= 11  # type: ignore[attr-defined]
    assert again.added == 0 and again.pages == 0  # type: ignore[attr-defined]
    (gap,) = first.gaps  # type: ignore[attr-defined]
    assert gap == {"after_ts": HOLE - 60_000, "next_ts": HOLE + 3 * 60_000, "missing_bars": 3}
    assert catalog.load(tmp_path / "s")[str(KEY)].gaps == [gap]
    assert first.limiter_wait_s > 0  # type: ignore[attr-defined]  # ccxt's limiter was on


@pytest.mark.slow
def test_a_download_killed_midway_resumes_without_duplicates(tmp_path: Path) -> None:
    path = _file()
    store = tmp_path / "store"

    async def go() -> int:
        emu = await _emulator(path)
        try:
            env = {**os.environ, "BASTION_STORE": str(store)}
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bastion.cli", "download", str(KEY),
                "--from", "2024-08-01", "--to", "2024-08-09", "--base-url", emu.url,
                "--limit", "200", "--flush-every", "1",
                env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            stored = 0
            for _ in range(600):  # kill it once some pages are on disk, long before the end
                await asyncio.sleep(0.05)
                entry = catalog.describe(store, KEY) if (store / "catalog.json").exists() else None
                stored = entry.rows if entry is not None else 0
                if stored >= 1_000 or proc.returncode is not None:
                    break
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            assert proc.returncode == -signal.SIGKILL, "the download finished before the kill"
            ex = make_exchange("binance", base_url=emu.url, rate_limit=True)
            try:
                rep = await download(ex, store, KEY, START, END, now=NOW, limit=200)
            finally:
                await ex.close()
            assert rep.resumed_from is not None and rep.resumed_from > START
            return stored
        finally:
            await emu.stop()

    stored = asyncio.run(go())

    assert 1_000 <= stored < 11_000
    assert_rows_equal(read_series(store, KEY), _served(path, START, END))


def test_data_list_and_show_print_span_rows_and_gaps(tmp_path: Path) -> None:
    path = _with_hole(_file(), tmp_path)

    async def go() -> None:
        emu = await _emulator(path)
        ex = make_exchange("binance", base_url=emu.url, rate_limit=False)
        try:
            await download(ex, tmp_path / "s", KEY, START, END, now=NOW)
        finally:
            await ex.close()
            await emu.stop()

    asyncio.run(go())
    runner = CliRunner()

    listed = runner.invoke(app, ["data", "list", "--store", str(tmp_path / "s")])
    shown = runner.invoke(app, ["data", "show", str(KEY), "--store", str(tmp_path / "s")])
    bad = runner.invoke(app, ["data", "show", "binance:ETHUSDT", "--store", str(tmp_path / "s")])

    assert listed.exit_code == 0, listed.output
    assert "binance:ETH/USDT:1m" in listed.output and "11,517 rows" in listed.output
    assert "1 gaps (3 bars missing)" in listed.output
    assert shown.exit_code == 0 and "gap: 3 bars missing after 2024-08-04 23:59" in shown.output
    assert bad.exit_code == 2 and "EXCHANGE:BASE/QUOTE:TIMEFRAME" in bad.output
    assert "Traceback" not in bad.output


def test_backtest_reads_its_bars_from_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _file()

    async def go() -> None:
        emu = await _emulator(path)
        ex = make_exchange("binance", base_url=emu.url, rate_limit=False)
        try:
            await download(ex, tmp_path / "store", KEY, START, END, now=NOW)
        finally:
            await ex.close()
            await emu.stop()

    asyncio.run(go())
    monkeypatch.setenv("BASTION_STORE", str(tmp_path / "store"))

    res = CliRunner().invoke(
        app, ["backtest", "--data", str(KEY), "--out", str(tmp_path / "out"), "--param", "qty=0.1"]
    )

    assert res.exit_code == 0, res.output
    assert "store binance:ETH/USDT:1m" in res.output

"""What file names say, and where the shared data folder is found."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.data import (
    format_interval,
    interval_from_filename,
    parse_interval,
    paths,
    shared_data_dir,
    symbol_from_filename,
)


@pytest.mark.parametrize(
    ("name", "symbol", "interval_ms"),
    [
        ("binance_BTC_USDT_1m_2025-05-20_2025-08-18.parquet", "BTC/USDT", 60_000),
        ("coinbase_ETH_USD_4h_2016-05-18_2025-10-28.parquet", "ETH/USD", 14_400_000),
        ("/some/folder/binance_SOL_USDT_1m_2026-03-23_2026-04-22.parquet", "SOL/USDT", 60_000),
        ("BTC_USDT-5m.feather", "BTC/USDT", 300_000),
        ("ETH_BTC-1d.json.gz", "ETH/BTC", 86_400_000),
        ("BTC_USDT_USDT-1h-futures.feather", "BTC/USDT:USDT", 3_600_000),
        ("BTCUSDT-1m-2025-01.zip", "BTC/USDT", 60_000),
        ("ETHFDUSD-15m-2025-01-31.csv", "ETH/FDUSD", 900_000),
        ("1000PEPEUSDC-1w-2024-12.csv", "1000PEPE/USDC", 604_800_000),
    ],
)
def test_names_that_announce_symbol_and_interval(name: str, symbol: str, interval_ms: int) -> None:
    assert symbol_from_filename(name) == symbol
    assert interval_from_filename(name) == interval_ms


@pytest.mark.parametrize(
    "name",
    [
        "bars.csv",
        "binance_spot_btcusdt_20240808.jsonl.gz",
        "BTC_USDT.parquet",  # no interval, so not one of the known layouts
        "BTCUSDT-1M-2025-01.csv",  # months are not a fixed length
    ],
)
def test_names_that_do_not_announce_a_symbol(name: str) -> None:
    assert symbol_from_filename(name) is None
    assert interval_from_filename(name) is None


def test_joined_pair_without_a_known_quote_has_no_symbol_but_an_interval() -> None:
    assert symbol_from_filename("XYZABC-1m-2025-01.csv") is None
    assert interval_from_filename("XYZABC-1m-2025-01.csv") == 60_000


@pytest.mark.parametrize(
    ("text", "ms"),
    [("1s", 1_000), ("1m", 60_000), ("15m", 900_000), ("4h", 14_400_000), ("1d", 86_400_000)],
)
def test_interval_text_round_trips(text: str, ms: int) -> None:
    assert parse_interval(text) == ms
    assert format_interval(ms) == text


def test_format_interval_falls_back_to_ms() -> None:
    assert format_interval(90_000) == "90s"
    assert format_interval(1_500) == "1500ms"
    with pytest.raises(ValueError, match="must be positive"):
        format_interval(0)


@pytest.mark.parametrize("text", ["", "m", "0m", "1M", "1y", "1.5h"])
def test_bad_interval_text_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=f"bar interval {text!r}: expected a positive count"):
        parse_interval(text)


def test_env_variable_names_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASTION_DATA_DIR", str(tmp_path))

    assert shared_data_dir() == tmp_path


def test_shared_data_beside_the_working_directory_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "repo" / "sub").mkdir(parents=True)
    monkeypatch.setenv("BASTION_DATA_DIR", str(tmp_path / "missing"))
    monkeypatch.setattr(paths, "__file__", str(tmp_path / "elsewhere" / "paths.py"))
    monkeypatch.chdir(tmp_path / "repo" / "sub")

    assert shared_data_dir() == tmp_path / "shared" / "data"


def test_shared_data_beside_this_source_file_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "shared" / "data").mkdir(parents=True)
    monkeypatch.delenv("BASTION_DATA_DIR", raising=False)
    monkeypatch.setattr(paths, "__file__", str(tmp_path / "main" / "src" / "bastion" / "x.py"))
    monkeypatch.chdir(tmp_path / "shared")

    assert shared_data_dir() == tmp_path / "shared" / "data"


def test_no_shared_data_anywhere_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "repo").mkdir()
    monkeypatch.delenv("BASTION_DATA_DIR", raising=False)
    monkeypatch.setattr(paths, "__file__", str(tmp_path / "repo" / "paths.py"))
    monkeypatch.chdir(tmp_path / "repo")

    assert shared_data_dir() is None

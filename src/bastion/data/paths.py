"""Where shared market data lives, and what a data file's name tells us.

Data files are named after what they hold (venue, symbol, bar length, span),
so a loader given only a path can still label the bars; the caller's explicit
arguments always win over what the name suggests.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Final

from bastion.model.timeframe import format_interval, parse_interval

DATA_DIR_ENV: Final = "BASTION_DATA_DIR"


# Suffixes of pairs written without a separator (Binance's ``BTCUSDT``), longest
# first so ``FDUSD`` wins over ``USD``.
_QUOTES: Final = tuple(
    sorted(
        (
            "USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USDP", "DAI", "USD", "EUR", "GBP",
            "TRY", "BRL", "JPY", "AUD", "BTC", "ETH", "BNB",
        ),
        key=len,
        reverse=True,
    )
)  # fmt: skip

_INTERVAL: Final = r"\d+[smhdw]"

# ``binance_BTC_USDT_1m_2025-05-20_2025-08-18`` (venue lower-case, optional),
# freqtrade's ``BTC_USDT-5m`` and futures ``BTC_USDT_USDT-1h-futures``.
_SPLIT_PAIR: Final = re.compile(
    rf"^(?:[a-z][a-z0-9]*_)?(?P<base>[A-Z0-9]+)_(?P<quote>[A-Z0-9]+)"
    rf"(?:_(?P<settle>[A-Z0-9]+))?[_-](?P<interval>{_INTERVAL})(?:[_-].*)?$"
)
# data.binance.vision: ``BTCUSDT-1m-2025-01`` or ``BTCUSDT-1m-2025-01-31``.
_JOINED_PAIR: Final = re.compile(
    rf"^(?P<pair>[A-Z0-9]+)-(?P<interval>{_INTERVAL})-\d{{4}}-\d{{2}}(?:-\d{{2}})?$"
)


__all__ = [
    "format_interval",
    "interval_from_filename",
    "parse_interval",
    "shared_data_dir",
    "symbol_from_filename",
]


def shared_data_dir() -> Path | None:
    """The shared market-data folder, or ``None`` when this machine has none.

    ``$BASTION_DATA_DIR`` wins when it names an existing folder. Otherwise a
    ``shared/data`` folder beside the repository root is found by walking up
    from this file and from the working directory, so tests find it from a
    checkout (``/work/main``) and from wherever pytest was started.
    """
    env = os.environ.get(DATA_DIR_ENV)
    if env and Path(env).is_dir():
        return Path(env)
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            candidate = folder / "shared" / "data"
            if candidate.is_dir():
                return candidate
    return None


def symbol_from_filename(name: str | os.PathLike[str]) -> str | None:
    """The symbol a data file's name announces, in ccxt form, or ``None``.

    ``binance_BTC_USDT_1m_...parquet`` → ``BTC/USDT``; freqtrade's
    ``BTC_USDT_USDT-1h-futures.feather`` → ``BTC/USDT:USDT``; Binance's
    ``BTCUSDT-1m-2025-01.zip`` → ``BTC/USDT`` when the quote is a known one.
    """
    stem = _stem(name)
    if match := _SPLIT_PAIR.match(stem):
        settle = match.group("settle")
        symbol = f"{match.group('base')}/{match.group('quote')}"
        return f"{symbol}:{settle}" if settle else symbol
    if match := _JOINED_PAIR.match(stem):
        pair = match.group("pair")
        for quote in _QUOTES:
            if pair.endswith(quote) and len(pair) > len(quote):
                return f"{pair[: -len(quote)]}/{quote}"
    return None


def interval_from_filename(name: str | os.PathLike[str]) -> int | None:
    """The bar length in ms a data file's name announces (``_1m_``, ``-4h``), or ``None``."""
    stem = _stem(name)
    match = _SPLIT_PAIR.match(stem) or _JOINED_PAIR.match(stem)
    return parse_interval(match.group("interval")) if match else None


def _stem(name: str | os.PathLike[str]) -> str:
    """The file name without folders and without every suffix (``.csv.gz``)."""
    base = Path(name).name
    while True:
        stem, dot, suffix = base.rpartition(".")
        if not dot or not stem or not suffix.isalnum() or suffix.isdigit():
            return base
        base = stem

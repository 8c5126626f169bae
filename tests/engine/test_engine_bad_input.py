"""Bad input, every kind an operator can write: each malformed config or data
file gives exactly one line naming the key or row, a non-zero exit and no
traceback (``bastion --debug`` shows one). The corpus is built here: every
config section, unknown keys, wrong types, out-of-range values, ``inf`` and
``nan`` for every duration and limit (generated from the config classes, so a
new field is covered the day it is added), negative balances, ``nan``
strategy parameters, a missing ``[[strategies]]``, non-UTF-8 bytes, an empty
file, bad TOML; data files with bad rows, non-UTF-8 bytes, a truncated
Parquet file and wrong columns."""

from __future__ import annotations

import subprocess
import sys
import types
import typing
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from bastion.cli import app
from bastion.config import BotConfig

SECTIONS: dict[str, str] = {  # TOML table -> a valid minimal body
    "": 'name = "badinput"\ndata_dir = "DATA"',
    "risk": "",
    "risk.rate": "",
    "risk.loss": "",
    "risk.correlation": "",
    "risk.sanity": "",
    "risk.volume": "",
    "data": "",
    "venue": "",
    "backtest": "",
    "exchange": 'mode = "paper"\nbase_url = "http://127.0.0.1:9"\nbar_interval = "1s"',
    "killswitch": "",
    "service": "startup_deadline_s = 1",
    "feeds": "",
    "observe": "",
    "observe.dashboard": "",
    "observe.alerts": "",
    "observe.digest": "",
    "observe.logs": "",
}
STRATEGY = '[[strategies]]\nname = "sma_cross"\nsymbols = ["BTC/USDT"]\nparams = {PARAMS}'
PARAMS = '{ fast = 2, slow = 3, qty = "0.01" }'


def config_text(
    extra: dict[str, str] | None = None, *, params: str = PARAMS, strategies: bool = True
) -> str:
    """The base config with ``extra[table]`` lines added to that table."""
    extra = extra or {}
    parts = []
    tables = dict(SECTIONS) | {t: "" for t in _sections() if t not in SECTIONS}
    for table, body in tables.items():
        head = f"[{table}]\n" if table else ""
        replaced = {line.split("=")[0].strip() for line in extra.get(table, "").splitlines()}
        kept = "\n".join(x for x in body.splitlines() if x.split("=")[0].strip() not in replaced)
        parts.append(head + "\n".join(x for x in (kept, extra.get(table, "")) if x))
    if strategies:
        parts.append(STRATEGY.replace("{PARAMS}", params) + "\n" + extra.get("strategies", ""))
    return "\n\n".join(parts) + "\n"


def _sections() -> dict[str, type[BaseModel]]:
    out: dict[str, type[BaseModel]] = {}

    def walk(prefix: str, model: type[BaseModel]) -> None:
        out[prefix] = model
        for name, field in model.model_fields.items():
            ann = field.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel) and name != "strategies":
                walk(f"{prefix}.{name}".lstrip("."), ann)

    walk("", BotConfig)
    return out


def _numeric(annotation: Any) -> bool:
    args = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else ()
    return any(t in (float, Decimal) for t in (args or (annotation,)))


def _non_finite_cases() -> list[tuple[str, dict[str, str], str]]:
    """``inf`` and ``nan`` for every float or Decimal field of every section."""
    cases = []
    for table, model in _sections().items():
        for name, field in model.model_fields.items():
            if not _numeric(field.annotation):
                continue
            key = f"{table}.{name}".lstrip(".")
            for value in ("inf", "nan", "-inf"):
                cases.append((f"{key}={value}", {table: f"{name} = {value}"}, key))
    return cases


CONFIG_CASES: list[tuple[str, dict[str, str], str]] = [
    # unknown keys, in every section
    *[(f"unknown key in [{t or 'top'}]", {t: "bogus_key = 1"}, "bogus_key") for t in SECTIONS],
    ("unknown key in [[strategies]]", {"strategies": "colour = 1"}, "colour"),
    ("unknown section", {"": "[nonsense]\nx = 1"}, "nonsense"),
    # wrong types
    ("string for a limit", {"risk": 'max_position = "lots"'}, "risk.max_position"),
    ("boolean for a number", {"exchange": "refresh_s = true"}, "exchange.refresh_s"),
    ("string for a port", {"killswitch": 'port = "eighty"'}, "killswitch.port"),
    ("number for a string", {"risk.loss": "timezone = 5"}, "risk.loss.timezone"),
    ("table for a number", {"risk.rate": "orders_per_minute = { a = 1 }"}, "orders_per_minute"),
    ("float for an int", {"risk.volume": "window = 2.5"}, "risk.volume.window"),
    ("boolean for a mode", {"exchange": "sandbox = 3"}, "exchange.sandbox"),
    ("bool for seed", {"backtest": "seed = true"}, "backtest.seed"),
    # out of range
    ("drawdown over 100%", {"risk.loss": "max_drawdown = 2"}, "risk.loss.max_drawdown"),
    ("daily loss zero", {"risk.loss": "daily_loss = 0"}, "risk.loss.daily_loss"),
    ("negative position", {"risk": "max_position = -1"}, "risk.max_position"),
    ("port too high", {"killswitch": "port = 70000"}, "killswitch.port"),
    ("zero timeout", {"exchange": "call_timeout_s = 0"}, "exchange.call_timeout_s"),
    ("negative deadline", {"service": "shutdown_timeout_s = -5"}, "service.shutdown_timeout_s"),
    ("bad on_exit", {"service": 'on_exit = "explode"'}, "service.on_exit"),
    ("bad mode", {"exchange": 'mode = "yolo"'}, "exchange.mode"),
    ("size_scale over 1", {"exchange": "size_scale = 2"}, "exchange.size_scale"),
    ("correlation over 1", {"risk.correlation": "threshold = 1.5"}, "threshold"),
    ("fee over 1000 bps", {"venue": "fee_bps = 5000"}, "venue.fee_bps"),
    ("bad slippage limit_fill", {"venue": 'limit_fill = "maybe"'}, "venue.limit_fill"),
    ("bad time zone", {"risk.loss": 'timezone = "Mars/Olympus"'}, "risk.loss.timezone"),
    ("bad reset time", {"risk.loss": 'reset_time = "25:99"'}, "risk.loss.reset_time"),
    ("bad bar interval", {"exchange": 'bar_interval = "banana"'}, "exchange.bar_interval"),
    ("bad base url", {"exchange": 'base_url = "localhost"'}, "exchange.base_url"),
    ("bad webhook", {"killswitch": 'webhook = "ftp://x"'}, "killswitch.webhook"),
    ("bad symbol", {"risk.symbols": ""} | {"risk": "symbols = { BTCUSDT = {} }"}, "BTCUSDT"),
    ("bad kill scope", {"killswitch": 'scope = "galaxy"'}, "killswitch.scope"),
    ("bad digest time zone", {"observe.digest": 'timezone = "Mars/Olympus"'}, "timezone"),
    ("bad digest send time", {"observe.digest": 'send_at = "7am"'}, "observe.digest.send_at"),
    ("bad alert severity", {"observe.alerts": 'routes = { loud = ["x"] }'}, "loud"),
    ("bad log level", {"observe.logs": 'level = "chatty"'}, "observe.logs.level"),
    ("dashboard port too high", {"observe.dashboard": "port = 70000"}, "observe.dashboard.port"),
    # balances
    ("negative paper balance", {"exchange": "paper_balances = { USDT = -5 }"}, "USDT"),
    ("nan paper balance", {"exchange": "paper_balances = { USDT = nan }"}, "paper_balances"),
    ("inf paper balance", {"exchange": "paper_balances = { BTC = inf }"}, "paper_balances"),
    # strategies
    ("symbol without slash", {"strategies": ""}, "BTCUSDT"),
    *_non_finite_cases(),
]
SPECIAL_SYMBOL = "symbol without slash"


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _config_case(tmp_path: Path, extra: dict[str, str], name: str) -> str:
    text = config_text(extra).replace("DATA", str(tmp_path / "data"))
    if name == SPECIAL_SYMBOL:
        text = text.replace('symbols = ["BTC/USDT"]', 'symbols = ["BTCUSDT"]')
    return text


RAW_CONFIGS: list[tuple[str, str | bytes, str]] = [
    ("empty file", "", "empty"),
    ("whitespace only", "\n   \n", "empty"),
    ("bad TOML", 'name = "x"\n[risk\nmax_position = 1\n', "not valid TOML"),
    ("duplicate key", 'name = "a"\nname = "b"\n', "not valid TOML"),
    ("non-UTF-8 bytes", b'name = "\xff\xfebot"\n', "UTF-8"),
    ("latin-1 file", 'name = "café"\n'.encode("latin-1"), "UTF-8"),
    ("no [[strategies]]", "STRATEGYLESS", "[[strategies]]"),
    ("nan strategy param", 'PARAMS:{ fast = nan, slow = 3, qty = "0.01" }', "params.fast"),
    ("inf strategy param", 'PARAMS:{ fast = 2, slow = inf, qty = "0.01" }', "params.slow"),
    ("NaN string qty", 'PARAMS:{ fast = 2, slow = 3, qty = "NaN" }', "params.qty"),
    ("unknown strategy", "STRATEGY:nonexistent_strategy", "nonexistent_strategy"),
    ("strategy param of a wrong type", 'PARAMS:{ fast = "abc", slow = 3, qty = "0.01" }', "fast"),
    ("unknown strategy param", 'PARAMS:{ fast = 2, slow = 3, qty = "0.01", zoom = 1 }', "zoom"),
    ("missing config file", "MISSING", "cannot read"),
]


def _raw(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "bot.toml"
    if content == "MISSING":
        return tmp_path / "nowhere.toml"
    if content == "STRATEGYLESS":
        content = config_text(strategies=False)
    elif isinstance(content, str) and content.startswith("PARAMS:"):
        content = config_text(params=content.removeprefix("PARAMS:"))
    elif isinstance(content, str) and content.startswith("STRATEGY:"):
        content = config_text().replace('"sma_cross"', f'"{content.removeprefix("STRATEGY:")}"')
    if isinstance(content, str):
        content = content.replace("DATA", str(tmp_path / "data"))
    return _write(path, content)


def _one_line_failure(result: Any, must_name: str) -> str:
    text = (result.stderr or "") + (result.stdout or "")
    lines = [x for x in text.splitlines() if x.strip()]
    assert result.exit_code != 0, text
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), repr(result.exception)
    assert "Traceback" not in text
    assert len(lines) == 1, text
    assert lines[0].startswith("error:"), text
    assert must_name in lines[0], (must_name, text)
    return lines[0]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize(("name", "extra", "key"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_a_malformed_config_gives_one_line_naming_the_key(tmp_path, name, extra, key) -> None:
    path = _write(tmp_path / "bot.toml", _config_case(tmp_path, extra, name))

    result = invoke("run", "--config", str(path))

    _one_line_failure(result, key)
    assert not (tmp_path / "data").exists()  # nothing was created or touched


@pytest.mark.parametrize(("name", "content", "key"), RAW_CONFIGS, ids=[c[0] for c in RAW_CONFIGS])
def test_a_broken_config_file_gives_one_line(tmp_path, name, content, key) -> None:
    path = _raw(tmp_path, content)

    result = invoke("run", "--config", str(path))

    line = _one_line_failure(result, key)
    if key == "[[strategies]]":
        assert "[[strategies]]" in line  # printed literally, not eaten as markup


def test_the_base_config_of_the_corpus_is_valid(tmp_path) -> None:
    """Every case above fails for its own reason, not because the base is bad."""
    import tomllib

    from bastion.config import parse_config

    cfg = parse_config(tomllib.loads(config_text().replace("DATA", str(tmp_path))))
    assert cfg.strategies and cfg.service.startup_deadline_s == 1


BARS_HEADER = "timestamp,open,high,low,close,volume\n"
LAST = "1704067500000"
GOOD_ROWS = "".join(f"{1_704_067_200_000 + i * 60_000},100,101,99,100.5,10\n" for i in range(5))


def _parquet(tmp_path: Path, *, truncate: bool = False, drop: str | None = None) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = {
        "timestamp": [1_704_067_200_000 + i * 60_000 for i in range(50)],
        **{c: [100.0] * 50 for c in ("open", "high", "low", "close", "volume")},
    }
    if drop:
        cols.pop(drop)
    path = tmp_path / "tmp.parquet"
    pq.write_table(pa.table(cols), path)
    raw = path.read_bytes()
    path.unlink()
    return raw[: len(raw) // 2] if truncate else raw


CSV = BARS_HEADER + GOOD_ROWS + LAST  # the next row starts here

DATA_CASES: list[tuple[str, str, Any, str]] = [
    ("non-numeric close", "BTC_USDT_1m.csv", CSV + ",1,1,1,abc,1\n", "row"),
    ("nan price", "BTC_USDT_1m.csv", CSV + ",1,1,1,nan,1\n", "row"),
    ("negative volume", "BTC_USDT_1m.csv", CSV + ",1,1,1,1,-5\n", "row"),
    ("high below low", "BTC_USDT_1m.csv", CSV + ",1,1,2,1,1\n", "row"),
    ("short row", "BTC_USDT_1m.csv", CSV + ",1,1\n", "line"),
    ("wrong columns", "BTC_USDT_1m.csv", "when,price\n1,2\n", "column"),
    ("non-UTF-8 bytes", "BTC_USDT_1m.csv", CSV.encode() + b",\xff,1,1,1,1\n", "1m.csv"),
    ("empty csv", "BTC_USDT_1m.csv", "", "BTC_USDT_1m.csv"),
    ("truncated parquet", "BTC_USDT_1m.parquet", "TRUNCATED", "BTC_USDT_1m.parquet"),
    ("parquet without close", "BTC_USDT_1m.parquet", "NOCLOSE", "close"),
    ("missing file", "nowhere_BTC_USDT_1m.csv", None, "nowhere_BTC_USDT_1m.csv"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "filename", "content", "key"), DATA_CASES, ids=[c[0] for c in DATA_CASES]
)
def test_a_malformed_data_file_gives_one_line_naming_the_row(
    tmp_path, name, filename, content, key
) -> None:
    path = tmp_path / filename
    if content == "TRUNCATED":
        content = _parquet(tmp_path, truncate=True)
    elif content == "NOCLOSE":
        content = _parquet(tmp_path, drop="close")
    if content is not None:
        _write(path, content)

    result = invoke("backtest", "--data", str(path), "--out", str(tmp_path / "out"))

    _one_line_failure(result, key)


def test_debug_shows_the_traceback_of_an_expected_failure(tmp_path) -> None:
    path = _raw(tmp_path, "STRATEGYLESS")

    plain = subprocess.run(
        [sys.executable, "-m", "bastion.cli", "run", "--config", str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    debug = subprocess.run(
        [sys.executable, "-m", "bastion.cli", "--debug", "run", "--config", str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert plain.returncode == debug.returncode == 2
    assert plain.stderr.strip() == "error: the config has no [[strategies]]"
    assert "Traceback" not in plain.stderr
    assert "Traceback" in debug.stderr and "LiveError" in debug.stderr
    assert debug.stderr.strip().endswith("error: the config has no [[strategies]]")

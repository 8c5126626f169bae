"""Configuration: a bad value names its key, the value and what was expected;
unknown keys are refused; a broken file is reported by name."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bastion.config import BotConfig, ConfigError, load_config, parse_config

D = Decimal

GOOD_TOML = """
name = "paper-1"

[[strategies]]
name = "sma_cross"
symbols = ["BTC/USDT"]
params = { fast = 10, slow = 30, qty = "0.05" }

[venue]
fee_bps = 7.5
slippage = "fixed:2"
limit_fill = "through"

[backtest]
cash = 2500.5
seed = 3
"""


def write(tmp_path: Path, text: str, name: str = "bot.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "bot.toml")
    return str(info.value)


def test_defaults_are_what_the_backtests_assume() -> None:
    cfg = BotConfig()

    assert (cfg.venue.fee_bps, cfg.backtest.cash) == (D(10), D(100_000))
    assert cfg.strategies == []


def test_a_good_file_loads_with_exact_decimals(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD_TOML))

    assert cfg.name == "paper-1"
    assert cfg.venue.fee_bps == D("7.5")
    assert cfg.backtest.cash == D("2500.5")
    assert (cfg.venue.limit_fill, cfg.venue.slippage, cfg.backtest.seed) == (
        "through",
        "fixed:2",
        3,
    )
    assert cfg.strategies[0].params == {"fast": 10, "slow": 30, "qty": "0.05"}


def test_a_toml_float_becomes_the_decimal_it_reads_as() -> None:
    cfg = parse_config({"venue": {"fee_bps": 0.1}})

    assert str(cfg.venue.fee_bps) == "0.1"


@pytest.mark.parametrize(
    ("data", "mentions"),
    [
        ({"venue": {"fee_bps": -1}}, ["venue.fee_bps", "-1", "greater than or equal to 0"]),
        ({"venue": {"fee_bps": float("nan")}}, ["venue.fee_bps", "nan", "finite"]),
        ({"backtest": {"cash": "lots"}}, ["backtest.cash", "'lots'", "decimal"]),
        ({"backtest": {"cash": 0}}, ["backtest.cash", "0", "greater than 0"]),
        ({"venue": {"limit_fill": "sometimes"}}, ["venue.limit_fill", "'sometimes'", "'touch'"]),
        ({"venue": {"latency_ms": 1.5}}, ["venue.latency_ms", "1.5", "integer"]),
        ({"venue": {"latency_ms": -5}}, ["venue.latency_ms", "-5", "greater than or equal to 0"]),
        (
            {"strategies": [{"name": "sma_cross", "symbols": ["BTCUSDT"]}]},
            ["strategies.0.symbols", "'BTCUSDT'", "BASE/QUOTE"],
        ),
        (
            {"strategies": [{"name": "sma_cross", "symbols": []}]},
            ["strategies.0.symbols", "[]", "at least 1"],
        ),
        ({"strategies": [{"symbols": ["BTC/USDT"]}]}, ["strategies.0.name", "required"]),
    ],
)
def test_a_bad_value_names_the_key_the_value_and_the_expectation(
    data: dict[str, Any], mentions: list[str]
) -> None:
    message = problems(data)

    assert message.startswith("bot.toml: invalid configuration")
    for word in mentions:
        assert word in message, (word, message)


def test_every_problem_is_reported_at_once() -> None:
    message = problems({"venue": {"fee_bps": -1, "latency_ms": "soon"}, "backtest": {"cash": 0}})

    assert "venue.fee_bps = -1" in message
    assert "venue.latency_ms = 'soon'" in message
    assert "backtest.cash = 0" in message


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"venu": {"fee_bps": 5}}, "venu"),
        ({"venue": {"fee_bsp": 5}}, "venue.fee_bsp"),
        ({"backtest": {"cash": 1, "seeed": 2}}, "backtest.seeed"),
        ({"risk": {"max_postion": "0.1"}}, "risk.max_postion"),
        ({"strategies": [{"name": "x", "symbols": ["A/B"], "parms": {}}]}, "strategies.0.parms"),
    ],
)
def test_unknown_keys_are_refused_by_name(data: dict[str, Any], key: str) -> None:
    message = problems(data)

    assert f"{key} = " in message
    assert "Extra inputs are not permitted" in message


def test_a_loaded_config_is_frozen() -> None:
    cfg = parse_config({"venue": {"fee_bps": 5}})

    with pytest.raises(ValidationError):
        cfg.venue.fee_bps = D(1)  # type: ignore[misc]

    assert cfg.venue.fee_bps == D(5)


def test_bad_toml_is_reported_with_the_file_name_and_where(tmp_path: Path) -> None:
    path = write(tmp_path, '[venue]\nfee_bps = 10\nslippage = "none\n', name="broken.toml")

    with pytest.raises(ConfigError) as info:
        load_config(path)

    message = str(info.value)
    assert message.startswith(str(path))
    assert "not valid TOML" in message
    assert "line 3" in message


def test_a_bad_value_in_a_file_is_reported_with_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, "[venue]\nfee_bps = -3\n", name="live.toml")

    with pytest.raises(ConfigError) as info:
        load_config(path)

    assert str(info.value).startswith(f"{path}: invalid configuration")
    assert "venue.fee_bps = -3" in str(info.value)


def test_a_missing_file_is_reported_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"

    with pytest.raises(ConfigError, match=r"nope\.toml: cannot read"):
        load_config(path)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"backtest": {"seed": True}}, "backtest.seed"),
        ({"venue": {"latency_ms": True}}, "venue.latency_ms"),
        ({"venue": {"fee_bps": False}}, "venue.fee_bps"),
        ({"data": {"max_age_s": True}}, "data.max_age_s"),
    ],
)
def test_a_boolean_is_not_a_number(data: dict[str, Any], key: str) -> None:
    # Found here: pydantic's lax mode loaded ``seed = true`` as 1 (fixed in config.py).
    message = problems(data)

    assert f"{key} = " in message
    assert "expected a number, got a boolean" in message


def test_booleans_still_load_where_booleans_are_expected() -> None:
    cfg = parse_config({"venue": {"margin": True}, "risk": {"allow_short": True}})

    assert (cfg.venue.margin, cfg.risk.allow_short) == (True, True)

"""The ``[risk]`` table: conservative defaults, per-symbol overrides, and a bad
value is an error naming the key."""

from __future__ import annotations

import tomllib
from decimal import Decimal

import pytest

from bastion.config import ConfigError, RiskConfig, parse_config
from bastion.risk import RiskGate, RiskLimits
from bastion.risk.exposure import ClusterExposureRule
from bastion.risk.rate import OrderRateRule
from bastion.risk.volume import VolumeRule

D = Decimal

TOML = """
[risk]
max_position = 0.3
max_net_exposure = 0.8

[risk.loss]
daily_loss = 0.03
timezone = "America/New_York"
reset_time = "17:00"

[risk.correlation]
enabled = false

[risk.symbols."BTC/USDT"]
max_position = 0.2
orders_per_minute = 3
"""


def test_defaults_are_on_and_conservative() -> None:
    limits = RiskLimits.from_config(RiskConfig())

    assert limits.max_position == D("0.25") and limits.max_order == D("0.2")
    assert limits.max_gross_exposure == D("1.0") and limits.max_net_exposure == D("1.0")
    assert limits.loss.daily_loss == 0.05 and limits.loss.max_drawdown == 0.20
    assert limits.loss.timezone == "UTC" and limits.loss.reset_minute == 0
    assert (limits.rate.orders_per_minute, limits.rate.orders_per_minute_symbol) == (30, 10)
    assert limits.volume.max_share == D("0.1") and limits.sanity.max_price_deviation == D("0.05")
    assert all(
        g.enabled
        for g in (limits.rate, limits.loss, limits.correlation, limits.sanity, limits.volume)
    )


def test_toml_values_and_per_symbol_overrides_reach_the_limits() -> None:
    cfg = parse_config(tomllib.loads(TOML))

    limits = RiskLimits.from_config(cfg.risk)

    assert limits.max_position == D("0.3") and limits.max_net_exposure == D("0.8")
    assert limits.loss.reset_minute == 17 * 60 and limits.loss.daily_loss == 0.03
    btc = limits.for_symbol("BTC/USDT")
    assert (btc.max_position, btc.orders_per_minute) == (D("0.2"), 3)
    assert btc.max_order == D("0.2")  # not overridden: the table's value
    assert limits.for_symbol("ETH/USDT").max_position == D("0.3")


def test_a_disabled_rule_is_left_out_of_the_gate() -> None:
    cfg = parse_config(tomllib.loads(TOML))

    gate = RiskGate.from_limits(RiskLimits.from_config(cfg.risk))

    kinds = {type(r) for r in gate.rules}
    assert ClusterExposureRule not in kinds
    assert {OrderRateRule, VolumeRule} <= kinds


def test_margin_venue_allows_shorts() -> None:
    assert RiskLimits.from_config(RiskConfig(), allow_short=True).allow_short


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"max_position": 0}, "risk.max_position"),
        ({"loss": {"daily_loss": 1.5}}, "risk.loss.daily_loss"),
        ({"loss": {"timezone": "Mars/Olympus"}}, "risk.loss.timezone"),
        ({"loss": {"reset_time": "24:30"}}, "risk.loss.reset_time"),
        ({"rate": {"orders_per_minute": 0}}, "risk.rate.orders_per_minute"),
        ({"volume": {"max_sharre": 0.1}}, "risk.volume.max_sharre"),
        ({"symbols": {"BTC/USDT": {"max_position": -1}}}, "risk.symbols.BTC/USDT.max_position"),
        ({"symbols": {"BTCUSDT": {"max_position": 0.1}}}, "risk.symbols"),
    ],
)
def test_a_bad_value_is_an_error_naming_the_key(table: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"risk": table})

    assert f"{key} = " in str(exc.value)


def test_the_gate_exposes_the_indicators_the_data_gate_should_keep() -> None:
    gate = RiskGate.from_limits(RiskLimits())

    specs = gate.indicators("BTC/USDT")

    assert [(type(s).__name__, s.period, s.source) for s in specs] == [("SMA", 30, "volume")]

"""``[feeds]`` is validated like every table: a bad value names the key."""

from __future__ import annotations

import pytest

from bastion.config import ConfigError, parse_config


def test_a_feed_list_parses_and_applies_per_symbol() -> None:
    cfg = parse_config(
        {
            "feeds": {
                "failback_s": 30,
                "sources": [{"name": "ws", "kind": "ws"}, {"name": "rest", "kind": "rest"}],
                "symbols": {"ETH/USDT": [{"name": "ref", "kind": "rest", "exchange": "kraken"}]},
            }
        }
    )

    assert cfg.feeds.enabled
    assert [s.name for s in cfg.feeds.for_symbol("BTC/USDT")] == ["ws", "rest"]
    assert [s.exchange for s in cfg.feeds.for_symbol("ETH/USDT")] == ["kraken"]


@pytest.mark.parametrize(
    ("feeds", "needle"),
    [
        ({"sources": [{"name": "ws", "kind": "socket"}]}, "feeds.sources.0.kind"),
        ({"sources": [{"name": "a", "kind": "ws"}, {"name": "a", "kind": "rest"}]}, "unique"),
        ({"sources": [{"name": "ws", "kind": "ws", "stall_s": 0}]}, "feeds.sources.0.stall_s"),
        ({"symbols": {"BTCUSDT": [{"name": "ws", "kind": "ws"}]}}, "BASE/QUOTE"),
        ({"failback": 3}, "feeds.failback"),
    ],
)
def test_a_bad_feed_entry_is_refused_with_its_key(feeds: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"feeds": feeds}, "bot.toml")

    assert needle in str(err.value)

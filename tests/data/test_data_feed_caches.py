"""A feed that rebuilds its client after a dropped stream does not hold the
dead client's caches (issue 17: memory flat in time)."""

from __future__ import annotations


def test_a_rebuilt_feed_drops_the_dead_clients_trade_cache():
    """A closed ccxt client lingers until a full collection: its cache must not."""
    from bastion.data.feeds import drop_caches
    from bastion.venues.ccxt.client import make_exchange

    ex = make_exchange("binance", base_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9")
    ex.trades = {"BTC/USDT": list(range(10_000))}

    drop_caches(ex)

    assert ex.trades == {}

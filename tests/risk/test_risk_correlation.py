"""Correlation clusters from sampled prices: co-moving symbols are one cluster
(single linkage), independent ones are not, and before enough samples every
symbol is assumed to move with every other."""

from __future__ import annotations

import numpy as np
from risk_factories import NOW, view

from bastion.risk.correlation import clusters_from_prices
from bastion.risk.tape import MarketTape

SYMS = ("A/USDT", "B/USDT", "C/USDT", "D/USDT")


def prices(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 0.01, n)
    a = common + rng.normal(0, 0.002, n)
    b = common + rng.normal(0, 0.002, n)
    c = 0.5 * b + rng.normal(0, 0.002, n) + 0.5 * common  # linked to B, so to A
    d = rng.normal(0, 0.01, n)  # independent
    return 100 * np.exp(np.cumsum(np.stack([a, b, c, d], axis=1), axis=0))


def test_co_moving_symbols_form_one_cluster_and_an_independent_one_stays_out() -> None:
    out = clusters_from_prices(prices(200), SYMS, threshold=0.7, min_samples=60)

    assert out["A/USDT"] == frozenset(SYMS[:3]) == out["C/USDT"]
    assert "D/USDT" not in out


def test_too_few_samples_or_missing_prices_give_no_measured_cluster() -> None:
    few = clusters_from_prices(prices(30), SYMS, threshold=0.7, min_samples=60)
    p = prices(200)
    p[:, 1] = np.nan
    gap = clusters_from_prices(p, SYMS, threshold=0.7, min_samples=60)

    assert few == {}
    assert "B/USDT" not in gap and gap.get("A/USDT") == frozenset({"A/USDT", "C/USDT"})


def test_the_tape_assumes_one_cluster_until_correlations_are_known() -> None:
    series = prices(100)
    market = view(dict.fromkeys(SYMS, 100.0))
    tape = MarketTape(sample_interval_ms=60_000, sample_window=240)
    early = None
    for i in range(100):
        for k, s in enumerate(SYMS):
            market[s].close = float(series[i, k])
        tape.observe(market, NOW + i * 60_000)
        if i == 10:
            early = dict(tape.clusters(threshold=0.7, min_samples=60, recompute_every=1))

    late = tape.clusters(threshold=0.7, min_samples=60, recompute_every=1)

    assert early is not None and early["D/USDT"] == frozenset(SYMS)
    assert not tape.warming_up
    assert "D/USDT" not in late and late["A/USDT"] == frozenset(SYMS[:3])

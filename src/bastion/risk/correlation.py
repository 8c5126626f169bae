"""Clusters of symbols that move together, from sampled prices.

Log returns of the sampled prices are correlated pairwise; two symbols whose
correlation reaches the threshold are linked, and a cluster is a connected
group of links (single linkage): if A moves with B and B with C, the three
are one bet, however the strategy labels them. Five coins that move together
must not pass as "diversified".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt


def clusters_from_prices(
    prices: npt.NDArray[np.float64],
    symbols: Sequence[str],
    *,
    threshold: float,
    min_samples: int,
) -> Mapping[str, frozenset[str]]:
    """``prices`` is samples × symbols, oldest first, NaN where a symbol had no
    price. Returns symbol → its cluster, for clusters of two or more."""
    with np.errstate(invalid="ignore", divide="ignore"):
        returns = np.diff(np.log(prices), axis=0)
    finite = np.isfinite(returns)
    usable = [k for k in range(len(symbols)) if finite[:, k].sum() >= min_samples]
    if len(usable) < 2:
        return {}
    sub = returns[:, usable]
    rows = np.isfinite(sub).all(axis=1)
    sub = sub[rows]
    if len(sub) < min_samples:
        return {}
    std = sub.std(axis=0)
    keep = std > 0
    if keep.sum() < 2:
        return {}
    sub = sub[:, keep]
    names = [symbols[k] for k, ok in zip(usable, keep, strict=True) if ok]
    corr = np.corrcoef(sub, rowvar=False)
    return _components(names, corr >= threshold)


def _components(names: Sequence[str], linked: npt.NDArray[np.bool_]) -> dict[str, frozenset[str]]:
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(linked, k=1)), strict=True):
        parent[root(int(i))] = root(int(j))
    groups: dict[int, set[str]] = {}
    for i, name in enumerate(names):
        groups.setdefault(root(i), set()).add(name)
    out: dict[str, frozenset[str]] = {}
    for members in groups.values():
        if len(members) > 1:
            cluster = frozenset(members)
            for name in members:
                out[name] = cluster
    return out

"""Strategies by name, for the CLI and config files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bastion.strategy.base import Strategy, parse_params
from bastion.strategy.examples.bollinger import BollingerReversion
from bastion.strategy.examples.quoting import InventoryQuoter
from bastion.strategy.examples.sma_cross import SmaCross

STRATEGIES: dict[str, type[Strategy[Any, Any]]] = {
    cls.name: cls for cls in (SmaCross, BollingerReversion, InventoryQuoter)
}


def build_strategy(
    name: str,
    symbols: Sequence[str],
    params: Mapping[str, Any] | None = None,
    instance_id: str | None = None,
) -> Strategy[Any, Any]:
    cls = STRATEGIES.get(name)
    if cls is None:
        raise ValueError(f"unknown strategy {name!r} (known: {', '.join(sorted(STRATEGIES))})")
    try:
        p = parse_params(cls.Params, params or {})
    except ValueError as exc:
        raise ValueError(f"strategy {name}: {exc}") from exc
    return cls(p, symbols, instance_id)

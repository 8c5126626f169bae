"""Strategies by name, for the CLI and config files: a built-in name, or the
user's own class as ``path/to/file.py:Class`` / ``package.module:Class``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bastion.strategy.base import Strategy, parse_params
from bastion.strategy.examples.bollinger import BollingerReversion
from bastion.strategy.examples.quoting import InventoryQuoter
from bastion.strategy.examples.sma_cross import SmaCross
from bastion.strategy.loader import load_strategy_class

STRATEGIES: dict[str, type[Strategy[Any, Any]]] = {
    cls.name: cls for cls in (SmaCross, BollingerReversion, InventoryQuoter)
}


def build_strategy(
    name: str,
    symbols: Sequence[str],
    params: Mapping[str, Any] | None = None,
    instance_id: str | None = None,
    base_dir: Path | None = None,
) -> Strategy[Any, Any]:
    """The strategy ``name`` (see ``load_strategy_class``) with ``params``; any
    problem is a ``ValueError`` naming the strategy and what was wrong."""
    cls = load_strategy_class(name, STRATEGIES, base_dir)
    label = cls.name if name in STRATEGIES else name
    try:
        p = parse_params(cls.Params, params or {})
        return cls(p, symbols, instance_id)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise ValueError(f"strategy {label}: {exc}") from None

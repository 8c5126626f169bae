"""The strategy contract.

A strategy is a pure function ``decide(view, account, memory) -> (intents,
memory)``: no I/O, no clock reads (``view.now`` is the time), no unseeded
randomness, no mutation of its inputs. Anything it must remember between
cycles lives in ``memory``, a value it returns and receives back, so a replay
of the same inputs gives the same intents and a restart loses nothing that is
not in the journal.

Parameters are a frozen dataclass; the strategy's *version* is a hash of its
source code and parameters, stamped on every intent, order, fill and
statistic, so a result can always be traced to the exact code that made it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar, get_type_hints

from bastion.model import AccountSnapshot, Intent, StrategyRef
from bastion.model.indicators import IndicatorSpec
from bastion.model.view import MarketView

M = TypeVar("M")
P = TypeVar("P")


class Strategy(ABC, Generic[P, M]):
    """Base class. Subclasses set ``name`` and ``Params`` and implement ``decide``."""

    name: ClassVar[str]
    Params: ClassVar[type[Any]]

    def __init__(self, params: P, symbols: Sequence[str], instance_id: str | None = None) -> None:
        if not symbols:
            raise ValueError(f"strategy {self.name}: at least one symbol is needed")
        self.params = params
        self.symbols: tuple[str, ...] = tuple(symbols)
        self.ref = StrategyRef(id=instance_id or self.name, version=self.version_hash())

    def indicators(self, symbol: str) -> Iterable[IndicatorSpec]:
        """Indicators the view must maintain for ``symbol``."""
        return ()

    @property
    def warmup(self) -> int:
        """Bars of history the strategy needs before its first useful decision.

        Paper and live bots load this many bars before deciding. Derived from
        the indicators' periods plus one (a crossover compares two defined
        bars); override it when the strategy needs something else."""
        specs = [spec for s in self.symbols for spec in self.indicators(s)]
        periods = [int(getattr(spec, "period", 0) or 0) for spec in specs]
        return max(periods) + 1 if any(periods) else 0

    @abstractmethod
    def initial_memory(self) -> M:
        """Memory for the first cycle."""

    @abstractmethod
    def decide(
        self, view: MarketView, account: AccountSnapshot, memory: M
    ) -> tuple[Sequence[Intent], M]:
        """Intents for this cycle and the memory for the next."""

    def version_hash(self) -> str:
        """12 hex chars of sha256 over the strategy's source file and parameters.

        The file's bytes as they are on disk now (not ``inspect``'s line cache,
        which can hold an older copy), so editing a strategy changes its version
        even within one process."""
        h = hashlib.sha256()
        h.update(_source_of(type(self)))
        h.update(repr(self.params).encode())
        h.update(repr(self.symbols).encode())
        return h.hexdigest()[:12]


def _source_of(cls: type) -> bytes:
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    if path:
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except OSError:
            pass
    try:
        return inspect.getsource(cls).encode()
    except (OSError, TypeError):
        return cls.__qualname__.encode()


def parse_params(cls: type[Any], raw: Mapping[str, Any]) -> Any:
    """Build a strategy's frozen ``Params`` from strings or TOML values.

    Unknown keys and unparseable values raise ``ValueError`` naming the key, the
    value and the expected type.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            raise ValueError(
                f"unknown parameter {key!r} (expected one of: {', '.join(sorted(fields))})"
            )
        typ = hints[key]
        try:
            exact = isinstance(value, typ) and not isinstance(value, bool)
            kwargs[key] = value if exact else _coerce(typ, value)
        except (ValueError, ArithmeticError) as exc:
            raise ValueError(
                f"parameter {key}={value!r}: expected {getattr(typ, '__name__', typ)}"
            ) from exc
    return cls(**kwargs)


def _coerce(typ: Any, value: Any) -> Any:
    if typ is bool:
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError(value)
    if isinstance(value, bool):
        raise ValueError(value)  # true is not 1: a TOML boolean for a number is a mistake
    if typ is int:
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(value)
            return int(value)
        return int(str(value))
    return typ(str(value))

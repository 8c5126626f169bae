"""A test strategy whose intents each cycle come from the test (shared by the
execution rig and the live suite)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bastion.model import AccountSnapshot, Intent
from bastion.model.view import MarketView
from bastion.strategy import Strategy

Script = Callable[[int, MarketView, AccountSnapshot], Sequence[Intent]]


@dataclass(frozen=True)
class NoParams:
    pass


class Scripted(Strategy[NoParams, int]):
    """Emits whatever the test's script returns for the cycle number."""

    name = "scripted"
    Params = NoParams
    script: Script = staticmethod(lambda i, v, a: [])

    def initial_memory(self) -> int:
        return 0

    def decide(self, view, account, memory):
        return list(type(self).script(memory, view, account)), memory + 1

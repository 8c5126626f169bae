"""The purity guard: catch a strategy that reads the clock, touches a file or
a socket, or mutates what it was given.

Used by the tests of every strategy, and by ``bastion backtest --guard`` for a
first run of a new one. It is too slow for every cycle of a long backtest
(a profile hook sees every C call), which is why it is opt-in.

- Clock and global randomness: a profile hook records C calls to the wall
  clock (``time.time``, ``datetime.now`` ...) and to the unseeded global RNG.
- Files, sockets, processes: an audit hook refuses them while the guard is
  active (the operation fails before it happens), and a refusal the strategy
  catches still rejects it.
- Mutation: the view's fingerprint (plus its indicators' state), the account
  and the memory are compared before and after.
"""

from __future__ import annotations

import datetime as _dt
import os
import pickle
import random
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from bastion.model import AccountSnapshot, Intent
from bastion.model.view import MarketView
from bastion.strategy.base import Strategy


class StrategyViolation(RuntimeError):
    """The strategy did something a pure strategy must not."""


_CLOCK_FUNCS = {
    time.time,
    time.time_ns,
    time.monotonic,
    time.monotonic_ns,
    time.perf_counter,
    time.perf_counter_ns,
    time.process_time,
    time.localtime,
    time.gmtime,
    time.ctime,
    time.asctime,
    time.strftime,
    os.urandom,
}
_CLOCK_METHODS = {"now", "utcnow", "today"}
_CLOCK_TYPES = (_dt.datetime, _dt.date)
_GLOBAL_RNG = getattr(random, "_inst", None)
_AUDIT_EVENTS = (
    "open",
    "socket.",
    "subprocess.",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.fork",
    "urllib.",
    "http.client.",
    "sqlite3.connect",
)

_state = threading.local()
_hook_installed = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if getattr(_state, "active", False) and event.startswith(_AUDIT_EVENTS):
        why = f"strategy performed I/O: {event} {args[:1]!r}"
        # Remembered as well as raised: a strategy that catches the error (and
        # so never lets it reach us) is still rejected when ``decide`` returns.
        # The guard stays active, so a second attempt is refused too.
        _state.io = why
        raise StrategyViolation(why)


def _install() -> None:
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)
        _hook_installed = True


def _forbidden(fn: Any) -> str | None:
    if fn in _CLOCK_FUNCS:
        return f"read the clock or entropy via {fn.__module__}.{fn.__name__}"
    owner = getattr(fn, "__self__", None)
    if owner in _CLOCK_TYPES and getattr(fn, "__name__", "") in _CLOCK_METHODS:
        return f"read the clock via {owner.__name__}.{fn.__name__}"
    if owner is not None and owner is _GLOBAL_RNG:
        return f"used the unseeded global RNG via random.{fn.__name__}"
    return None


def _snapshot(obj: Any) -> bytes | str:
    try:
        return pickle.dumps(obj, protocol=5)
    except Exception:
        return repr(obj)


def _view_state(view: MarketView) -> tuple[object, ...]:
    """The fingerprint plus what it leaves out: each symbol view's identity and a
    pickle of its indicators (a still-filling window changes no value). The
    view's lookup cache, which reads legitimately fill, is not included."""
    extra = [(sv.symbol, sv.interval_ms, _snapshot(sv._indicators)) for sv in view.values()]
    return (view.fingerprint(), tuple(extra))


def guarded_decide(
    strategy: Strategy[Any, Any], view: MarketView, account: AccountSnapshot, memory: Any
) -> tuple[Sequence[Intent], Any]:
    """Run ``strategy.decide`` under the guard; raise ``StrategyViolation`` on impurity."""
    _install()
    view_before = _view_state(view)
    account_before = _snapshot(account)
    memory_before = _snapshot(memory)
    violations: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "c_call":
            why = _forbidden(arg)
            if why is not None:
                violations.append(why)

    old_profile = sys.getprofile()
    _state.io = None
    _state.active = True
    sys.setprofile(profile)
    try:
        result = strategy.decide(view, account, memory)
    finally:
        sys.setprofile(old_profile)
        _state.active = False
    name = strategy.ref.id
    if _state.io is not None:
        violations.insert(0, _state.io)
    if violations:
        raise StrategyViolation(f"strategy {name}: {violations[0]}")
    if _view_state(view) != view_before:
        raise StrategyViolation(f"strategy {name}: mutated the market view")
    if _snapshot(account) != account_before:
        raise StrategyViolation(f"strategy {name}: mutated the account")
    if _snapshot(memory) != memory_before:
        raise StrategyViolation(f"strategy {name}: mutated its memory in place (return a new one)")
    return result

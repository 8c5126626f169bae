"""``bastion run`` as a service: start-up that waits out a bad minute, a stop
that leaves the account as the operator chose, and a cycle that knows when it
has been asleep.

These are the live loop's edges, kept out of ``live.py`` so that the loop
reads as its steps:

- ``retry_startup``: a start-up step (connect, load markets, read the
  account, recover) that met a transient failure (429, 5xx, unreachable, no
  answer) is retried with exponential backoff and a one-line status until the
  start-up deadline; refused keys end it at once with a line naming the
  environment variables (never their values).
- ``Stopper``: SIGTERM and Ctrl-C ask the loop to stop after the cycle under
  way instead of tearing it down mid-call.
- ``on_exit``: working orders cancelled (the default; protective orders stay
  resting), left, or cancelled and the bot's own fills closed.
- ``StaleCycles``: a cycle starting long after the last completed one
  re-reads everything before deciding (the reconciler's downtime rule, which
  the live loop turns on here).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from bastion.config import BotConfig, ServiceConfig
from bastion.engine.cycle import owner
from bastion.engine.errors import Interrupted, LiveError
from bastion.execution import client_order_id
from bastion.model import CancelRequest, OrderRequest, OrderType, Side
from bastion.model.money import ZERO
from bastion.model.timeframe import parse_interval
from bastion.venues.errors import (
    AuthenticationError,
    BadResponse,
    RateLimited,
    UnclassifiedVenueError,
    VenueTimeout,
    VenueUnavailable,
)

if TYPE_CHECKING:
    from bastion.engine.session import Session

T = TypeVar("T")
Status = Callable[[str], None]

# What waiting can cure. A refusal (bad keys, bad symbol) is not in here.
TRANSIENT = (VenueUnavailable, RateLimited, VenueTimeout, BadResponse, UnclassifiedVenueError)


def keys_message(key_env: str, exc: BaseException | None = None) -> str:
    """The line for refused keys: the variables' names, never their values."""
    why = f" ({type(exc).__name__})" if exc is not None else ""
    return (
        f"the exchange refused the API key{why}: check {key_env}_API_KEY and "
        f"{key_env}_API_SECRET in the environment (key, secret, IP whitelist, permissions)"
    )


class Stopper:
    """SIGTERM / Ctrl-C → a stop request the loop and the start-up both see.

    ``event`` is for the loop (awaitable), ``flag`` for start-up steps running in
    worker threads (their backoff sleeps wake on it)."""

    def __init__(self) -> None:
        self.flag = threading.Event()
        self.event = asyncio.Event()
        self.signal: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self) -> None:
        self._loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                self._loop.add_signal_handler(sig, self.stop, sig.name)

    def uninstall(self) -> None:
        if self._loop is None:
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                self._loop.remove_signal_handler(sig)

    def stop(self, why: str = "stop") -> None:
        if self.signal is None:
            self.signal = why
        self.flag.set()
        self.event.set()

    @property
    def stopping(self) -> bool:
        return self.flag.is_set()

    def check(self) -> None:
        if self.stopping:
            raise Interrupted(f"{self.signal}: stopped during start-up; nothing was traded")


class StartupClock:
    """The start-up deadline, shared by every step (connect, account, recovery, data)."""

    def __init__(self, service: ServiceConfig, clock: Callable[[], float] = time.monotonic):
        self.service = service
        self._clock = clock
        self.deadline = clock() + service.startup_deadline_s

    def left(self) -> float:
        return self.deadline - self._clock()


def retry_startup(
    step: Callable[[], T],
    *,
    what: str,
    key_env: str,
    clock: StartupClock,
    status: Status,
    stopper: Stopper | None = None,
) -> T:
    """``step()``, retried while it fails transiently and the deadline allows."""
    service = clock.service
    attempt = 0
    while True:
        if stopper is not None:
            stopper.check()
        try:
            return step()
        except AuthenticationError as exc:
            raise LiveError(keys_message(key_env, exc)) from exc
        except TRANSIENT as exc:
            attempt += 1
            wait = min(service.retry_base_s * 2 ** (attempt - 1), service.retry_max_s)
            if isinstance(exc, RateLimited) and exc.retry_after_s:
                wait = max(wait, exc.retry_after_s)  # told how long: hammering gets a ban
            left = clock.left()
            if left <= 0:
                raise LiveError(
                    f"start-up: {what} still failing after the start-up deadline "
                    f"({service.startup_deadline_s:g} s, [service] startup_deadline_s): "
                    f"{type(exc).__name__}"
                ) from exc
            wait = min(wait, left)
            status(
                f"start-up: {what}: {type(exc).__name__}; retry {attempt} in {wait:.1f} s "
                f"({left:.0f} s left before the start-up deadline)"
            )
            if stopper is not None:
                stopper.flag.wait(wait)
            else:
                time.sleep(wait)


def stale_after_ms(config: BotConfig) -> int:
    """How long without a completed cycle counts as downtime."""
    stale = config.service.stale_cycle_s
    if stale is not None:
        return int(stale * 1000)
    return 3 * parse_interval(config.exchange.bar_interval) + 60_000


def turn_on_downtime_rule(session: Session, config: BotConfig) -> None:
    """A decision that starts more than ``stale_after_ms`` after the previous one
    re-reads the account, open orders included, before deciding; the reconciler
    journals ``downtime``."""
    session.bot.reconciler.downtime_ms = stale_after_ms(config)


def refetch_if_stale(session: Session, last_completed_ms: int | None, now: int, limit: int) -> bool:
    """After a gap with no completed cycle, everything the bot knows is re-read
    before it decides: fills missed while asleep, orders whose fate changed,
    the account. True if it re-read."""
    if last_completed_ms is None or now - last_completed_ms <= limit:
        return False
    bot = session.bot
    bot.journal(
        "stale_cycle",
        now,
        {"since": last_completed_ms, "gap_ms": now - last_completed_ms, "alert": True},
    )
    bot.orders.catch_up_fills(last_completed_ms, now)
    if bot.orders.working:
        bot.orders.recover(now)
    bot.reconciler.invalidate()
    return True


# ------------------------------------------------------------------ on exit
def on_exit(session: Session, policy: str, now: int) -> dict[str, object]:
    """Working orders at a clean stop: cancel (default), leave, or flatten.

    ``cancel`` leaves the protective orders (``[strategies.protect]``) resting:
    protecting the position while the bot is down is what they are for.
    ``flatten`` cancels them too (they lock what the close sells) and closes
    only what the bot's own fills hold (its ledger), never more than the
    exchange shows: holdings the bot did not buy are not its to sell. Returns
    what was done (journaled with ``run_end``)."""
    bot = session.bot
    done: dict[str, object] = {"on_exit": policy}
    if policy == "leave":
        done["left"] = sorted(bot.orders.working)
        return done
    cancelled, kept = [], []
    for mo in list(bot.orders.working.values()):
        req = mo.request
        if policy == "cancel" and req.origin == "protect":
            kept.append(req.client_id)
            continue
        bot.orders.cancel(
            CancelRequest(client_id=req.client_id, symbol=req.symbol, reason=f"on_exit {policy}"),
            now,
        )
        cancelled.append(req.client_id)
    done["cancelled"] = cancelled
    if kept:
        done["protection_kept"] = kept
    if policy == "flatten":
        done["closes"] = _close_own(session, now)
    return done


def _close_own(session: Session, now: int) -> list[str]:
    bot = session.bot
    account = bot.venue.fetch_account()
    closes: list[str] = []
    for leg, (sym, own) in enumerate(sorted(bot.ledger().items())):
        inst = bot.instruments.get(sym)
        held = account.position(sym)
        if inst is None or own == 0 or held == 0 or (own > 0) != (held > 0):
            continue
        qty = inst.round_qty(min(abs(own), abs(held)))
        if qty <= ZERO:
            continue
        request = OrderRequest(
            client_id=client_order_id(bot.run_id, bot.cycle + 1, leg, 0, prefix="bq"),
            strategy=owner(bot, sym),
            symbol=sym,
            side=Side.SELL if own > 0 else Side.BUY,
            qty=qty,
            type=OrderType.MARKET,
            reduces_exposure=True,
            cycle=bot.cycle + 1,
        )
        bot.orders.submit(request, now)
        closes.append(request.client_id)
    return closes

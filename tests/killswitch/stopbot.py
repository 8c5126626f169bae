"""A bot process that hangs itself: ``python stopbot.py CONFIG POINT NTH``.

The production session (order store, journal, latch, send check) trades the
config's one symbol through the real ccxt client against the emulator, one
cycle after another with no wait (a target that moves every cycle, so orders
are always on their way). The ``NTH`` time the cycle reaches ``POINT`` the
process sends itself SIGSTOP: frozen exactly there, as a hung bot would be,
until the test kills it (``bastion kill``'s code) and sends SIGCONT. Points:
entry and exit of the venue calls a cycle makes, the write-ahead flush of
its decisions, and the moment just before a send is checked. The hooks wrap
the venue, the journal and the guard; the code under test is unmodified.
"""

from __future__ import annotations

import os
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.scripted import NoParams, Scripted

from bastion.clock import wall_ms
from bastion.config import load_config
from bastion.engine.session import open_session
from bastion.model import TargetPosition
from bastion.venues.ccxt import CcxtVenue, Credentials

SECOND = 1_000
POINTS = (
    "drain_events:enter",
    "drain_events:exit",
    "fetch_account:enter",
    "fetch_account:exit",
    "journal_flush",
    "before_send_check",
)


def main() -> None:
    config = load_config(sys.argv[1])
    point, nth = sys.argv[2], int(sys.argv[3])
    symbol = config.strategies[0].symbols[0]
    seen = 0

    def reached(where: str) -> None:
        nonlocal seen
        if where == point:
            seen += 1
            if seen == nth:
                print(f"stopping at {point} #{nth}", flush=True)
                os.kill(os.getpid(), signal.SIGSTOP)
                print("woken", flush=True)

    Scripted.script = staticmethod(
        lambda i, v, a: [TargetPosition(symbol=symbol, qty=Decimal("0.5") + Decimal(i % 3) / 10)]
    )
    ex = config.exchange
    creds = Credentials.from_env(ex.key_env)
    assert creds is not None, "the test passes keys in the environment"
    venue = CcxtVenue(
        ex.id,
        [symbol],
        credentials=creds,
        base_url=ex.base_url,
        ws_url=ex.ws_url,
        call_timeout_s=ex.call_timeout_s,
        rate_limit=False,
    )
    venue.start()
    for method in ("drain_events", "fetch_account"):
        real = getattr(venue, method)

        def hooked(*args: Any, _real: Any = real, _m: str = method, **kwargs: Any) -> Any:
            reached(f"{_m}:enter")
            out = _real(*args, **kwargs)
            reached(f"{_m}:exit")
            return out

        setattr(venue, method, hooked)
    session = open_session(
        data_dir=Path(config.data_dir),
        venue=venue,
        strategies=[Scripted(NoParams(), [symbol], "scripted")],
        config=config,
        intervals={symbol: SECOND},
        now=wall_ms(),
        refresh_ms=0,  # the account is read every cycle
        clock=wall_ms,
    )
    guard = session.bot.orders.guard

    def checked(request: Any, now: int) -> Any:
        reached("before_send_check")
        return guard(request, now) if guard is not None else None

    session.bot.orders.guard = checked
    flush = session.journal.flush

    def flushed() -> None:
        flush()
        reached("journal_flush")

    session.journal.flush = flushed  # type: ignore[method-assign]
    last_bar = 0
    print("ready", flush=True)
    try:
        while True:
            now = wall_ms()
            bar = now - now % SECOND - SECOND
            if bar > last_bar:
                last_bar = bar
                p = 60_000.0  # the emulator's BTC (market orders fill at its book)
                session.bot.gate.on_bar(symbol, bar, p, p, p, p, 1_000.0)
            session.cycle(now)
    finally:
        session.close()
        venue.close()


if __name__ == "__main__":
    main()

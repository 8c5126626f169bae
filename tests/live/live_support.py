"""Factories for the live-path tests: the real ccxt binance class, through
``CcxtVenue``, against the exchange emulator on loopback.

``LiveRig`` is the execution rig of ``tests/execution`` with its edges
swapped for the live ones: an emulator on its own thread (market events
pushed by the test), a ``CcxtVenue`` pointed at it (nothing patched but the
URLs), a real session (SQLite store and journal in ``tmp_path``) and a
scripted strategy whose intents per cycle the test chooses. The clock is the
wall clock, because the emulator checks signed requests against it: a bar
is stamped one interval before ``now`` so the data gate finds it fresh.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.scripted import NoParams, Script, Scripted

from bastion.config import BotConfig
from bastion.emulator import TEST_API_KEY, TEST_API_SECRET, Emulator, EmulatorConfig, EmulatorThread
from bastion.emulator.market import QuoteEvent, TradeEvent
from bastion.engine.session import Session, open_session
from bastion.execution.policy import ExecutionPolicy
from bastion.observe.journal import read_events
from bastion.venues.ccxt import CcxtVenue, Credentials

SYMBOL = "BTC/USDT"
EX_SYMBOL = "BTCUSDT"
SECOND = 1_000
PRICE = Decimal("60000.00")


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


# Small numbers so a storm reaches its cap in well under a second of wall time.
FAST_POLICY = ExecutionPolicy(
    max_attempts=3,
    backoff_base_ms=50,
    backoff_max_ms=200,
    max_total_delay_ms=5_000,
    jitter=0.0,
    unknown_grace_ms=0,
    unknown_checks=2,
    unresolved_after_ms=10_000,
    resend_if_younger_ms=5_000,
)


def start_emulator(config: EmulatorConfig | None = None) -> tuple[EmulatorThread, Emulator]:
    thread = EmulatorThread(
        config or EmulatorConfig(source="none", balances={"USDT": Decimal(100_000)})
    )
    return thread, thread.start()


def make_venue(emu: Emulator, *, sink: Any = None, call_timeout_s: float = 1.0) -> CcxtVenue:
    """The real ccxt binance class through the venue port, aimed at the emulator."""
    venue = CcxtVenue(
        "binance",
        [SYMBOL],
        credentials=Credentials(TEST_API_KEY, TEST_API_SECRET),
        base_url=emu.url,
        ws_url=emu.ws_url,
        call_timeout_s=call_timeout_s,
        rate_limit=False,
        sink=sink,
    )
    venue.start()
    return venue


def admin(emu: Emulator, path: str, body: Any = None, method: str | None = None) -> Any:
    """The emulator's admin API over HTTP, as an operator (or a test) uses it."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        emu.admin_url + path,
        data=data,
        method=method or ("POST" if body is not None else "GET"),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, every: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


@dataclass
class LiveRig:
    folder: Path
    thread: EmulatorThread
    emu: Emulator
    venue: CcxtVenue
    session: Session
    price: Decimal = PRICE

    @property
    def bot(self):
        return self.session.bot

    def quote(self, price: Decimal | None = None) -> None:
        """A fresh top of book on the emulator (what market orders fill against)."""
        p = price or self.price
        emu = self.emu
        self.thread.call(
            lambda: emu.apply(
                QuoteEvent(
                    symbol=EX_SYMBOL, ts=emu.server_ms(), bid=p, bid_qty=Decimal(5),
                    ask=p + Decimal("0.01"), ask_qty=Decimal(5),
                )
            )
        )  # fmt: skip

    def trade(self, price: Decimal | None = None) -> None:
        p = price or self.price
        emu = self.emu
        self.thread.call(
            lambda: emu.apply(
                TradeEvent(
                    symbol=EX_SYMBOL, ts=emu.server_ms(), price=p, qty=Decimal("0.1"),
                    buyer_maker=False,
                )
            )
        )  # fmt: skip

    def step(self, n: int = 1, *, settle_s: float = 0.0) -> None:
        """``n`` one-second bars at the current price, a cycle after each."""
        for _ in range(n):
            now = wall_ms()
            t = now - now % SECOND - SECOND
            c = float(self.price)
            self.quote()
            self.bot.gate.on_bar(SYMBOL, t, c, c, c, c, 1_000.0)
            self.session.cycle(now)
            if settle_s:
                time.sleep(settle_s)

    def events(self, *kinds: str) -> list[dict[str, Any]]:
        self.session.journal.flush()
        return list(read_events(self.folder, kinds=list(kinds) or None))

    def emulator_orders(self, client_id: str) -> list[dict[str, Any]]:
        return admin(self.emu, f"/orders?clientOrderId={client_id}")["orders"]

    def emulator_position(self) -> Decimal:
        state = admin(self.emu, "/state")
        bal = state["balances"].get("BTC")
        return Decimal(bal["free"]) + Decimal(bal["locked"]) if bal else Decimal(0)

    def close(self) -> None:
        self.session.close()
        self.venue.close()
        self.thread.stop()


def make_rig(
    folder: Path,
    script: Script | None,
    *,
    policy: ExecutionPolicy = FAST_POLICY,
    call_timeout_s: float = 1.0,
    refresh_ms: int = 30_000,  # the live default: the account is not re-read every cycle
    balances: dict[str, Decimal] | None = None,
    config: BotConfig | None = None,
) -> LiveRig:
    Scripted.script = staticmethod(script or (lambda i, v, a: []))
    thread, emu = start_emulator(
        None
        if balances is None
        else EmulatorConfig(source="none", balances={"USDT": Decimal(100_000), **balances})
    )
    journal_sink: list[Any] = []

    def sink(kind: str, ts: int, payload: dict[str, Any]) -> None:
        # The venue exists before the journal; route its events there once it does.
        target = journal_sink[0] if journal_sink else None
        if target is not None:
            target(kind, ts, payload)

    venue = make_venue(emu, sink=sink, call_timeout_s=call_timeout_s)
    rig = LiveRig(folder, thread, emu, venue, None)  # type: ignore[arg-type]
    rig.quote()
    rig.session = open_session(
        data_dir=folder,
        venue=venue,
        strategies=[Scripted(NoParams(), [SYMBOL], "scripted")],
        config=config or BotConfig(),
        intervals={SYMBOL: SECOND},
        now=wall_ms(),
        policy=policy,
        refresh_ms=refresh_ms,
    )
    journal_sink.append(rig.session.journal)
    return rig

"""A rig for execution scenarios: a real simulated venue behind the fault
wrapper, a real session (SQLite store and journal in tmp_path), and a
scripted strategy whose intents per cycle the test chooses."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from tests.scripted import NoParams, Script, Scripted

from bastion.config import BotConfig
from bastion.engine.session import Session, open_session
from bastion.execution.policy import ExecutionPolicy
from bastion.model import Instrument, OrderStatus
from bastion.observe.journal import read_events
from bastion.venues.faults import FaultyVenue
from bastion.venues.sim import SimVenue

SYMBOL = "SYN/USDT"
T0 = 1_704_067_200_000
MINUTE = 60_000


@dataclass
class Rig:
    folder: Path
    sim: SimVenue
    venue: FaultyVenue
    session: Session
    bar: int = 0
    prices: list[float] = field(default_factory=list)
    config: BotConfig = field(default_factory=BotConfig)

    @property
    def bot(self):
        return self.session.bot

    def step(self, n: int = 1, *, cycle: bool = True) -> None:
        """Feed ``n`` bars; run a cycle after each unless the bot is 'down'."""
        for _ in range(n):
            i = self.bar
            t = T0 + i * MINUTE
            c = self.prices[i % len(self.prices)]
            self.sim.on_bar(SYMBOL, t, c, c * 1.001, c * 0.999, c, 1000.0)
            self.sim.set_time(t + MINUTE)
            if cycle:
                self.bot.gate.on_bar(SYMBOL, t, c, c * 1.001, c * 0.999, c, 1000.0)
                self.session.cycle(t + MINUTE)
            self.bar += 1

    @property
    def now(self) -> int:
        return T0 + self.bar * MINUTE

    def events(self, *kinds: str) -> list[dict]:
        self.session.journal.flush()
        return list(read_events(self.folder, kinds=list(kinds) or None))

    def restart(self, policy: ExecutionPolicy | None = None) -> None:
        self.session.close()
        self.session = _open(self.folder, self.venue, self.now, policy, self.config)

    def assert_invariants(self) -> None:
        # At most one order per client id reached the venue.
        assert len(self.venue.sent) == len(set(self.venue.sent)), self.venue.sent
        assert not self.venue.resent_after_accept, self.venue.resent_after_accept
        # Our ledger equals the venue's position.
        venue_qty = self.sim.fetch_account().position(SYMBOL)
        rec = self.bot.reconciler
        asset = SYMBOL.split("/", maxsplit=1)[0]
        ledger = (
            self.bot.ledger().get(SYMBOL, Decimal(0))
            + rec.baseline.get(asset, Decimal(0))
            + rec.adopted.get(asset, Decimal(0))
        )
        assert ledger == venue_qty, (ledger, venue_qty)
        # Every order is terminal, or unknown and flagged, with a journal trail.
        trail = {e.get("client_id") for e in self.events()}
        for cid, mo in self.bot.orders.orders.items():
            assert mo.status.terminal or mo.status in (
                OrderStatus.OPEN,
                OrderStatus.PARTIALLY_FILLED,
                OrderStatus.UNKNOWN,
            ), (cid, mo.status)
            assert cid in trail
        # Nothing in the journal was lost: sequence numbers are contiguous.
        seqs = [e["seq"] for e in self.events()]
        assert seqs == list(range(1, len(seqs) + 1))


POLICY = ExecutionPolicy(
    max_attempts=4,
    backoff_base_ms=60_000,
    backoff_max_ms=240_000,
    max_total_delay_ms=600_000,
    jitter=0.0,
    unknown_grace_ms=60_000,
    unknown_checks=2,
    unresolved_after_ms=300_000,
    resend_if_younger_ms=180_000,
)


def _open(
    folder: Path,
    venue: FaultyVenue,
    now: int,
    policy: ExecutionPolicy | None,
    config: BotConfig | None = None,
) -> Session:
    return open_session(
        data_dir=folder,
        venue=venue,
        strategies=[Scripted(NoParams(), [SYMBOL], "scripted")],
        config=config or BotConfig(),
        intervals={SYMBOL: MINUTE},
        now=now,
        policy=policy or POLICY,
        refresh_ms=0,
    )


def make_rig(
    folder: Path,
    script: Script | None,
    *,
    seed: int = 1,
    config: BotConfig | None = None,
    balances: dict[str, Decimal] | None = None,
) -> Rig:
    Scripted.script = staticmethod(script or (lambda i, v, a: []))
    sim = SimVenue([Instrument.spot(SYMBOL)], balances or {"USDT": Decimal(100_000)})
    venue = FaultyVenue(sim, seed=seed)
    rng = np.random.default_rng(3)
    prices = [float(p) for p in 100 * np.exp(np.cumsum(rng.normal(0, 0.001, 500)))]
    cfg = config or BotConfig()
    session = _open(folder, venue, T0, None, cfg)
    return Rig(folder, sim, venue, session, prices=prices, config=cfg)


@pytest.fixture
def rig(tmp_path, request):
    r = make_rig(tmp_path, getattr(request, "param", None))
    yield r
    r.session.close()

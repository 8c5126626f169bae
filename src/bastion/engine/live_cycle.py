"""One live decision, as the cycle thread runs it (``bastion.engine.cycle_thread``).

Per interval: a cycle that starts long after the last completed one re-reads
everything first (``refetch_if_stale``); the interval's bars (and the
corrections of earlier bars) go into the gate, the book tops too; the cycle
runs (``Session.cycle``: kill flag, latch, gate → reconcile → decide → review
→ journal → execute); then the health sample. A refused or unanswered
exchange call skips this decision and the bot tries again at the next bar;
the first of a streak alerts, and the end of one is journaled.

Between decisions, ``catch_up`` makes the account re-read that the next
decision would otherwise make inside its tick-to-order window (after an
order's reply, a stream update, or on the venue's schedule): the decision
then finds it cached, unless anything changed after, when it re-reads as
before. The account still comes only from the venue's REST snapshot.

Everything here runs on the cycle thread, which alone holds the session.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from bastion.clock import wall_ms
from bastion.data.recorder import Recorder
from bastion.engine.cycle import catch_up
from bastion.engine.service import refetch_if_stale
from bastion.engine.session import Session
from bastion.model import Bar, BookTop
from bastion.venues.errors import VenueError

Tops = Callable[[], dict[str, BookTop]]  # the books' tops, read where the books live
Sample = Callable[[float, int], None]  # (perf_counter at the first bar, orders sent before)


@dataclass(slots=True)
class LiveCycle:
    """The cycle thread's step: ``step(bars, taken)`` per interval."""

    session: Session
    stale_ms: int
    corrected: deque[Bar] = field(default_factory=deque)  # amended bars, from the feed's loop
    recorder: Recorder | None = None
    tops: Tops | None = None
    sample: Sample | None = None  # the health sample (``bastion.engine.health.after_cycle``)
    after: Callable[[], None] | None = None  # the shell's bookkeeping after a completed cycle
    failing: int = 0  # cycles in a row the venue made impossible
    last_done: int | None = None  # wall ms when the last cycle completed

    def __call__(self, bars: list[Bar], taken: float) -> None:
        session = self.session
        sent = session.bot.orders.submitted
        try:
            refetch_if_stale(session, self.last_done, wall_ms(), self.stale_ms)
            tops = self.tops() if self.tops is not None else {}
            cycle_on_bars(session, bars, tops, self.corrected, self.recorder)
            if self.sample is not None:
                self.sample(taken, sent)
        except VenueError as exc:
            # The venue refused or did not answer (a ban, an outage): this
            # decision is skipped, the bot stays up and tries at the next bar.
            self.failing += 1
            cycle_failed(session, exc, self.failing)
            return
        self.last_done = wall_ms()
        if self.failing:
            session.journal.append("cycle_recovered", wall_ms(), {"failed_cycles": self.failing})
            self.failing = 0
        if self.after is not None:
            self.after()

    # ``Idle`` for the cycle thread: between decisions
    def behind(self) -> bool:
        return self.session.bot.reconciler.behind()

    def catch_up(self) -> None:
        try:
            catch_up(self.session.bot, wall_ms())
        except VenueError:
            return  # the decision re-reads, and a failure there is the decision's
        self.session.journal.flush()  # what the re-read journaled (deltas)


def cycle_on_bars(
    session: Session,
    bars: list[Bar],
    tops: dict[str, BookTop] | None = None,
    corrected: deque[Bar] | None = None,
    recorder: Recorder | None = None,
) -> None:
    """The bars (and corrections) into the gate in time order, then one cycle."""
    gate = session.bot.gate
    now = wall_ms()
    fixes: list[Bar] = []
    while corrected:
        fixes.append(corrected.popleft())
    # A bar before its own correction; a correction before any later bar.
    steps = [(b.ts, 0, b) for b in bars] + [(b.ts, 1, b) for b in fixes]
    for _, is_fix, bar in sorted(steps, key=lambda x: (x[0], x[1], x[2].symbol)):
        if is_fix:
            gate.amend(bar)
        else:
            gate.on_bar(bar.symbol, bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume)
        if recorder is not None:
            recorder.bar(bar, now, "amended" if is_fix else "closed")
    for sym, top in (tops or {}).items():
        gate.on_book(sym, top)
    session.cycle(now)


def cycle_failed(session: Session, exc: VenueError, streak: int) -> None:
    """Journal a decision the venue made impossible; the first of a streak alerts."""
    session.journal.append(
        "cycle_failed",
        wall_ms(),
        {
            "cycle": session.bot.cycle,
            "error": f"{type(exc).__name__}: {exc}"[:300],
            "streak": streak,
            "alert": streak == 1,
        },
    )
    session.journal.flush()

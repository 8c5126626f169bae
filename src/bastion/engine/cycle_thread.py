"""The one thread that runs the live bot's decisions, fed bars directly.

The feed's event loop closes bars and hands each one to ``CycleThread.put``,
which only appends it to a queue the cycle thread is waiting on: no asyncio
queue, no ``to_thread`` per bar, no trip back to the loop between a bar and
its decision. The loop keeps reading the market while the cycle thread
decides and waits on the exchange (the venue has its own loop), and one
thread, always the same one, holds the session: the cycles never overlap.

- A decision takes one bar per symbol: after the first bar of an interval the
  thread waits up to ``wait_s`` for the other symbols' bars (a one-symbol bot
  decides at once), and takes whatever else is already waiting.
- ``stop`` asks for no new cycle; the one under way finishes. Bars already
  taken for a cycle that has not begun are dropped, as the loop dropped them.
- Between decisions the thread catches up with the account (``Idle``): when
  the venue says the account may have changed (an order answered, a stream
  update, the scheduled re-read; the venue ``nudge``s the thread) and nothing
  has moved for ``quiet_s``, it makes the re-read the next decision would have
  made, so that the decision finds it done instead of waiting for it. At most
  ``CATCH_UPS`` times per decision (an order's reply, then the stream's report
  of it), so a busy account is not read much more often than before; the
  decision still re-reads whenever anything changed after.
- ``wait`` returns when the thread has ended; an exception that ended it (a
  bug, never a refused or unanswered exchange call: the step handles those) is
  raised there, on the loop, so the shell's clean-up runs as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from enum import Enum
from typing import Protocol

from bastion.model import Bar

Step = Callable[[list[Bar], float], None]  # (bars, perf_counter when the first was taken)
CATCH_UPS = 2  # account re-reads between two decisions, at most


class Idle(Protocol):
    """What the thread does between decisions (``bastion.engine.live_cycle``)."""

    def behind(self) -> bool:
        """Whether the next decision would re-read the account (no side effects)."""
        ...

    def catch_up(self) -> None:
        """Make that re-read now; never places an order."""
        ...


class _Signal(Enum):
    STOP = "stop"
    NUDGE = "nudge"  # the account may have changed


class CycleThread:
    def __init__(
        self,
        step: Step,
        n_symbols: int,
        *,
        wait_s: float = 0.05,
        idle: Idle | None = None,
        quiet_s: float = 0.01,
        name: str = "bastion-cycle",
    ) -> None:
        self._step = step
        self._n_symbols = n_symbols
        self._wait_s = wait_s
        self._idle = idle
        self._quiet_s = quiet_s
        self._bars: queue.SimpleQueue[Bar | _Signal] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._ended: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.error: BaseException | None = None
        self.cycles = 0
        self.catch_ups = 0

    # ------------------------------------------------------- the loop's side
    def put(self, bar: Bar) -> None:
        """Hand a closed bar to the cycle thread (any thread; never blocks)."""
        self._bars.put(bar)

    def nudge(self) -> None:
        """The account may have changed (any thread; never blocks)."""
        self._bars.put(_Signal.NUDGE)

    def start(self) -> None:
        """Start the thread; call on the loop that will ``wait`` for it."""
        self._loop = asyncio.get_running_loop()
        self._ended = self._loop.create_future()
        self._thread.start()

    def stop(self) -> None:
        """No new cycle; the one under way finishes (any thread)."""
        self._stopping.set()
        self._bars.put(_Signal.STOP)

    async def wait(self) -> None:
        """Until the thread has ended; re-raises what ended it."""
        assert self._ended is not None, "start() first"
        await asyncio.shield(self._ended)
        if self.error is not None:
            raise self.error

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread (from a worker thread, or after ``stop``); True if it ended."""
        if self._thread.ident is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ------------------------------------------------------ the thread's side
    def _main(self) -> None:
        caught_up = 0  # re-reads since the last decision
        try:
            while not self._stopping.is_set():
                idle = self._idle
                due = idle is not None and caught_up < CATCH_UPS and idle.behind()
                wait = self._quiet_s if due else None
                try:
                    first = self._bars.get(timeout=wait)
                except queue.Empty:  # quiet, and the account is behind: read it now
                    assert idle is not None
                    idle.catch_up()
                    caught_up += 1
                    self.catch_ups += 1
                    continue
                if first is _Signal.STOP:
                    break
                if first is _Signal.NUDGE:
                    continue  # behind now, perhaps: the quiet wait starts again
                taken = time.perf_counter()
                bars = self._collect(first)
                if self._stopping.is_set():
                    break  # no new cycle once a stop is asked for
                self._step(bars, taken)
                self.cycles += 1
                caught_up = 0
        except BaseException as exc:  # raised on the loop by ``wait``
            self.error = exc
        finally:
            self._notify()

    def _collect(self, first: Bar) -> list[Bar]:
        """``first``, then the other symbols' bars of the interval as they close
        (for at most ``wait_s``), then whatever else is already waiting."""
        bars = [first]
        have = {first.symbol}
        deadline = time.monotonic() + self._wait_s
        while len(have) < self._n_symbols:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                item = self._bars.get(timeout=left)
            except queue.Empty:
                break
            if item is _Signal.STOP:
                self._bars.put(item)
                return bars
            if isinstance(item, Bar):
                bars.append(item)
                have.add(item.symbol)
        while True:
            try:
                item = self._bars.get_nowait()
            except queue.Empty:
                return bars
            if item is _Signal.STOP:
                self._bars.put(item)
                return bars
            if isinstance(item, Bar):
                bars.append(item)

    def _notify(self) -> None:
        loop, ended = self._loop, self._ended
        if loop is None or ended is None or loop.is_closed():
            return

        def set_ended() -> None:
            if not ended.done():
                ended.set_result(None)

        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(set_ended)

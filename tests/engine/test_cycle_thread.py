"""The cycle thread: bars handed straight from the feed's loop to one thread
that decides, in order, never two cycles at once, and stops cleanly."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bastion.engine.cycle_thread import CycleThread
from bastion.model import Bar

MINUTE = 60_000
WAIT = 30.0  # a bound on waiting for the thread, never a timing under test


def bar(symbol: str = "BTC/USDT", k: int = 0) -> Bar:
    return Bar(
        symbol=symbol, ts=k * MINUTE, interval_ms=MINUTE,
        open=1.0, high=1.0, low=1.0, close=1.0, volume=1.0,
    )  # fmt: skip


class Recorder:
    """A step that records what each cycle took and on which thread."""

    def __init__(self, block: threading.Event | None = None) -> None:
        self.cycles: list[list[tuple[str, int]]] = []
        self.threads: set[str] = set()
        self.entered = threading.Event()
        self.done = threading.Event()
        self.block = block
        self.running = 0
        self.overlapped = False
        self.want = 0

    def __call__(self, bars: list[Bar], taken: float) -> None:
        self.running += 1
        self.overlapped = self.overlapped or self.running > 1
        self.threads.add(threading.current_thread().name)
        self.entered.set()
        if self.block is not None:
            assert self.block.wait(WAIT)
        self.cycles.append([(b.symbol, b.ts) for b in bars])
        self.running -= 1
        if len(self.cycles) >= self.want:
            self.done.set()


async def until(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, WAIT)


async def taken(worker: CycleThread) -> None:
    """Until the thread has taken every bar handed to it so far."""
    for _ in range(int(WAIT * 1000)):
        if worker._bars.empty():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the cycle thread never took its bar")


def test_each_bar_is_one_decision_on_the_cycle_thread_in_order() -> None:
    async def main() -> Recorder:
        step = Recorder()
        step.want = 3
        worker = CycleThread(step, 1)
        worker.start()
        for k in range(3):
            worker.put(bar(k=k))
            await until(step.done if k == 2 else step.entered)
            step.entered.clear()
        worker.stop()
        await worker.wait()
        return step

    step = asyncio.run(main())

    assert [c[0][1] for c in step.cycles] == [0, MINUTE, 2 * MINUTE]
    assert all(len(c) >= 1 for c in step.cycles)
    assert step.threads == {"bastion-cycle"}
    assert not step.overlapped


def test_the_other_symbols_bars_of_the_interval_share_the_decision() -> None:
    async def main() -> Recorder:
        step = Recorder()
        step.want = 1
        worker = CycleThread(step, 2, wait_s=WAIT)
        worker.start()
        worker.put(bar("BTC/USDT"))
        await taken(worker)  # the thread has the first bar and waits for the other
        worker.put(bar("ETH/USDT"))  # closes a little later: the same cycle takes it
        await until(step.done)
        worker.stop()
        await worker.wait()
        return step

    step = asyncio.run(main())

    assert step.cycles == [[("BTC/USDT", 0), ("ETH/USDT", 0)]]


def test_a_stop_while_the_interval_is_collected_decides_nothing() -> None:
    async def main() -> Recorder:
        step = Recorder()
        worker = CycleThread(step, 2, wait_s=WAIT)
        worker.start()
        worker.put(bar("BTC/USDT"))
        await taken(worker)  # waiting for ETH/USDT's bar when the stop comes
        worker.stop()
        await worker.wait()
        return step

    step = asyncio.run(main())

    assert step.cycles == []


def test_a_stop_lets_the_cycle_under_way_finish_and_starts_no_new_one() -> None:
    release = threading.Event()

    async def main() -> Recorder:
        step = Recorder(block=release)
        worker = CycleThread(step, 1)
        worker.start()
        worker.put(bar(k=0))
        await until(step.entered)  # a cycle is under way
        worker.put(bar(k=1))  # waiting when the stop comes
        worker.stop()
        release.set()
        await worker.wait()
        assert worker.join(WAIT)
        return step

    step = asyncio.run(main())

    assert step.cycles == [[("BTC/USDT", 0)]]  # finished; the waiting bar was not decided


def test_what_ends_the_thread_is_raised_on_the_loop() -> None:
    def step(bars: list[Bar], taken: float) -> None:
        raise RuntimeError("a bug in the cycle")

    async def main() -> None:
        worker = CycleThread(step, 1)
        worker.start()
        worker.put(bar())
        await worker.wait()

    with pytest.raises(RuntimeError, match="a bug in the cycle"):
        asyncio.run(main())


def test_a_thread_never_started_joins_at_once() -> None:
    worker = CycleThread(lambda bars, taken: None, 1)
    worker.stop()

    assert worker.join(0)


class Account:
    """``Idle``: whether the account is behind is the test's to say."""

    def __init__(self, behind: bool, *, stays: bool = False) -> None:
        self.is_behind = behind
        self.stays = stays  # behind again at once (the venue keeps moving)
        self.catch_ups = 0
        self.reached = threading.Event()
        self.want = 1

    def behind(self) -> bool:
        return self.is_behind

    def catch_up(self) -> None:
        self.catch_ups += 1
        self.is_behind = self.stays
        if self.catch_ups >= self.want:
            self.reached.set()


def test_between_decisions_a_behind_account_is_caught_up_at_most_twice_per_decision() -> None:
    account = Account(behind=True, stays=True)
    at_step: list[int] = []

    def step(bars: list[Bar], taken: float) -> None:
        at_step.append(account.catch_ups)

    async def main() -> None:
        worker = CycleThread(step, 1, idle=account, quiet_s=0.001)
        account.want = 2
        worker.start()
        await until(account.reached)
        await asyncio.sleep(0.05)  # time enough for more, were more allowed
        account.reached.clear()
        account.want = 4
        worker.put(bar())
        await until(account.reached)
        worker.stop()
        await worker.wait()

    asyncio.run(main())

    assert at_step == [2]  # twice before the decision, never more
    assert account.catch_ups == 4  # and twice again after it


def test_an_account_that_is_not_behind_is_never_read_between_decisions() -> None:
    account = Account(behind=False)
    step = Recorder()
    step.want = 1

    async def main() -> None:
        worker = CycleThread(step, 1, idle=account, quiet_s=0.001)
        worker.start()
        worker.nudge()
        worker.put(bar())
        await until(step.done)
        worker.stop()
        await worker.wait()

    asyncio.run(main())

    assert account.catch_ups == 0
    assert len(step.cycles) == 1


def test_a_nudge_wakes_the_thread_to_catch_up() -> None:
    account = Account(behind=False)

    async def main() -> None:
        worker = CycleThread(Recorder(), 1, idle=account, quiet_s=0.001)
        worker.start()
        await taken(worker)
        account.is_behind = True  # an order answered on the venue's thread
        worker.nudge()  # which tells the cycle thread
        await until(account.reached)
        worker.stop()
        await worker.wait()

    asyncio.run(main())

    assert account.catch_ups == 1

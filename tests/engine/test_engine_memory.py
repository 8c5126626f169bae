"""The live loop's collector: a full collection at most every ``every_s``, the
first at once; a freeze that leaves start-up's objects out of every later one."""

from __future__ import annotations

import gc

from bastion.engine.memory import Collector


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_collections_come_on_schedule_and_the_first_at_once() -> None:
    clock = _Clock()
    c = Collector(every_s=60.0, clock=clock)
    assert c.after_cycle() is True  # the first cycle collects
    clock.t += 59.9
    assert c.after_cycle() is False
    clock.t += 0.1
    assert c.after_cycle() is True
    assert c.collections == 2
    assert c.sample()["collections"] == 2


def test_a_collection_frees_cycles_the_interpreter_would_leave_for_later() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self
            self.payload = bytearray(100_000)

    gc.disable()
    try:
        Node()  # unreachable at once, but a cycle: only a collection frees it
        c = Collector(every_s=0.0)
        c.after_cycle()
        assert c.freed >= 1
        assert not any(type(o) is Node for o in gc.get_objects())
    finally:
        gc.enable()


def test_a_freeze_keeps_start_up_out_of_later_collections() -> None:
    c = Collector()
    try:
        c.freeze()
        assert c.frozen > 1_000  # the test process's modules and objects
        assert c.sample()["frozen"] == c.frozen
        assert len(gc.get_objects()) < c.frozen  # a collection now scans only what is new
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0

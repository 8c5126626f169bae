"""The live loop's collector: a full collection at most every ``every_s``, the
first at once; a freeze that leaves start-up's objects out of every later one."""

from __future__ import annotations

import gc
import os
import platform
import subprocess
import sys

import pytest

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
        c.thaw()
    assert gc.get_freeze_count() == 0


def test_the_allocator_is_tuned_on_glibc_unless_the_operator_chose() -> None:
    """Runs in child processes: mallopt changes the allocator for good."""
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc's mallopt only; elsewhere tune_allocator is a no-op")
    code = "from bastion.engine.memory import tune_allocator; print(sorted(tune_allocator()))"

    def tuned(**extra: str) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | extra
        cmd = [sys.executable, "-c", code]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        return out.stdout.strip()

    assert tuned() == "['MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_']"
    assert tuned(MALLOC_ARENA_MAX="4") == "['MALLOC_MMAP_THRESHOLD_']"  # the operator's wins

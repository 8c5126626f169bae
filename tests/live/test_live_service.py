"""``bastion run`` runs like a service: through a subprocess, the real ccxt
client and the exchange emulator.

- 503s and 429s at start-up are retried (one status line per retry) and the bot
  starts once they stop; past the start-up deadline it ends with one line;
- refused keys end it at once with one line naming the variable;
- SIGTERM: the cycle finishes, working orders are cancelled (or left, as
  configured), ``run_end`` is journaled and the summary printed;
- a second ``run`` on the same data folder is refused, naming the holder's pid;
- after a sleep (SIGSTOP longer than ``stale_cycle_s``) the next cycle
  re-reads everything before deciding.
"""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest
from service_support import (
    KEY_ENV,
    admin,
    emulator,
    events,
    open_orders,
    run,
    spawn,
    terminate,
    wait_for,
    write_config,
)


def _error_lines(text: str) -> list[str]:
    return [line for line in text.strip().splitlines() if line.strip()]


@pytest.mark.slow
@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "http_error", "status": 503, "count": 3},
        {"kind": "rate_limit", "retry_after_s": 1, "count": 3},
    ],
    ids=["503", "429"],
)
def test_transient_errors_at_start_up_are_retried_until_they_stop(tmp_path, fault) -> None:
    with emulator() as emu:
        cfg = write_config(tmp_path, emu)
        admin(emu, "/faults", fault)

        done = run(cfg, "--duration", "6")

        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "Traceback" not in done.stderr
        retries = [x for x in done.stdout.splitlines() if x.startswith("start-up:")]
        assert len(retries) == 3, done.stdout
        assert all("retry" in x for x in retries)
        data = tmp_path / "data"
        assert events(data, "session_start") and events(data, "run_end")
        assert "summary" in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("down", ["503 for good", "unreachable"])
def test_past_the_start_up_deadline_it_ends_with_one_line(tmp_path, down) -> None:
    with emulator() as emu:
        cfg = write_config(tmp_path, emu, service="startup_deadline_s = 2")
        if down == "unreachable":
            with socket.socket() as s:  # a port nobody listens on
                s.bind(("127.0.0.1", 0))
                closed = f"http://127.0.0.1:{s.getsockname()[1]}"
            cfg.write_text(cfg.read_text().replace(emu.url, closed), encoding="utf-8")
        else:
            admin(emu, "/faults", {"kind": "http_error", "status": 503})

        t0 = time.monotonic()
        done = run(cfg)
        elapsed = time.monotonic() - t0

        lines = _error_lines(done.stderr)
        assert done.returncode == 2, done.stdout + done.stderr
        assert len(lines) == 1 and lines[0].startswith("error: start-up"), done.stderr
        assert "startup_deadline_s" in lines[0]
        assert elapsed < 60


@pytest.mark.slow
def test_refused_keys_end_the_start_up_at_once_naming_the_variable(tmp_path) -> None:
    wrong = "not-a-key-7c1d9e"
    with emulator() as emu:
        cfg = write_config(tmp_path, emu)
        admin(emu, "/faults", {"kind": "latency", "ms": 0})  # the emulator is up and well

        done = run(cfg, **{f"{KEY_ENV}_API_KEY": wrong})

        lines = _error_lines(done.stderr)
        assert done.returncode == 2, done.stdout + done.stderr
        assert len(lines) == 1 and f"{KEY_ENV}_API_KEY" in lines[0], done.stderr
        assert wrong not in done.stdout + done.stderr
        assert "retry" not in done.stdout  # refused keys are not retried


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_sigterm_cancels_working_orders_journals_run_end_and_prints_the_summary(
    tmp_path, sig
) -> None:
    with emulator() as emu:
        cfg = write_config(tmp_path, emu)
        log = tmp_path / "bot.log"
        bot = spawn(cfg, log)
        try:
            wait_for(lambda: open_orders(emu), 60, "the quoter's resting orders", log)

            second = run(cfg, "--duration", "5")  # the same data folder

            assert second.returncode == 2
            assert f"pid {bot.pid}" in second.stderr and "in use" in second.stderr
            assert len(_error_lines(second.stderr)) == 1
            assert bot.poll() is None  # the first bot was not disturbed
        finally:
            code = terminate(bot, sig=sig)

        out = log.read_text()
        assert code == 0, out[-3000:]
        assert "Traceback" not in out and "summary" in out
        data = tmp_path / "data"
        (end,) = events(data, "run_end")
        (shutdown,) = events(data, "shutdown")
        assert shutdown["on_exit"] == "cancel" and shutdown["cancelled"]
        assert shutdown["why"] == sig.name
        assert shutdown["seq"] < end["seq"]
        assert open_orders(emu) == []


@pytest.mark.slow
def test_on_exit_leave_keeps_orders_and_a_sleep_forces_a_full_reread(tmp_path) -> None:
    with emulator() as emu:
        cfg = write_config(tmp_path, emu, service='on_exit = "leave"\nstale_cycle_s = 2')
        log = tmp_path / "bot.log"
        bot = spawn(cfg, log)
        data = tmp_path / "data"
        try:
            wait_for(lambda: open_orders(emu), 60, "the quoter's resting orders", log)
            os.kill(bot.pid, signal.SIGSTOP)  # a laptop lid closed
            time.sleep(4)
            os.kill(bot.pid, signal.SIGCONT)
            wait_for(lambda: events(data, "stale_cycle"), 30, "a stale-cycle re-read", log)
            cycles = len(events(data, "cycle"))
            wait_for(lambda: len(events(data, "cycle")) > cycles, 30, "a cycle after it", log)
        finally:
            code = terminate(bot)

        assert code == 0, log.read_text()[-3000:]
        (stale,) = events(data, "stale_cycle")[:1]
        assert stale["gap_ms"] >= 2_000 and stale["alert"] is True
        (shutdown,) = events(data, "shutdown")
        assert shutdown["on_exit"] == "leave" and shutdown["left"]
        assert events(data, "run_end")
        assert open_orders(emu)  # left resting, as configured

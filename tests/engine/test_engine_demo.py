"""The live demo shows warm-up and a failover on its own: the emulator silences
the primary feed once on purpose and the status lines say so, then show the
fallback carrying BTC/USDT and the fail-back. Real parts throughout: the
emulator on loopback, the real ccxt client, the bot's own journal."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli import app
from bastion.engine.demo import DemoStall, run_demo, stall_from_env
from bastion.observe.journal import read_events


@pytest.mark.slow
def test_the_demo_stalls_its_primary_feed_on_purpose_and_shows_failover_and_failback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASTION_DEMO_API_KEY", "bastion-emulator-key")  # restored after
    monkeypatch.setenv("BASTION_DEMO_API_SECRET", "bastion-emulator-secret")
    stall = DemoStall(at_s=4.0, for_s=8.0, failback_s=4.0, detect_s=2.0)  # the default, faster
    lines: list[str] = []

    run_demo(tmp_path / "live", duration_s=stall.needs_s(), status=lines.append, stall=stall)

    said = [i for i, line in enumerate(lines) if "stalling the primary feed" in line]
    assert said and "on purpose" in lines[said[0]], lines
    assert any("warming up" in line for line in lines), lines
    on_rest = [i for i, line in enumerate(lines) if "BTC/USDT on rest" in line]
    assert on_rest, lines
    back = [i for i, line in enumerate(lines) if "BTC/USDT on ws (2 switches)" in line]
    assert back and back[0] > on_rest[0], lines
    switched = [e for e in read_events(tmp_path / "live") if e["kind"] == "feed_switched"]
    assert [e["reason"] for e in switched][:2] == ["FAILOVER", "FAILBACK"]


def test_a_demo_too_short_for_the_failback_injects_no_stall_and_says_so(tmp_path: Path) -> None:
    lines: list[str] = []
    stall = DemoStall()

    with pytest.raises(RuntimeError):  # stop right after the decision: no bot is needed
        run_demo(tmp_path / "live", duration_s=10, status=_stop_at(lines, 1), stall=stall)

    assert lines[0].startswith("demo: no feed stall this time"), lines


def _stop_at(lines: list[str], n: int):  # type: ignore[no-untyped-def]
    def status(line: str) -> None:
        lines.append(line)
        if len(lines) >= n:
            raise RuntimeError("enough")

    return status


def test_the_stall_is_on_by_default_and_the_environment_moves_or_ends_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BASTION_DEMO_STALL_S", raising=False)
    assert stall_from_env() == DemoStall()
    monkeypatch.setenv("BASTION_DEMO_STALL_S", "30")
    assert stall_from_env() == DemoStall(at_s=30.0)
    for off in ("0", "off"):
        monkeypatch.setenv("BASTION_DEMO_STALL_S", off)
        assert stall_from_env() is None


def test_a_bad_stall_setting_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASTION_DEMO_STALL_S", "soon")

    result = CliRunner().invoke(app, ["demo", "--duration", "1"])

    assert result.exit_code == 2
    assert "BASTION_DEMO_STALL_S='soon'" in result.output
    assert "Traceback" not in result.output

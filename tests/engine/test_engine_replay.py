"""Replay on a session driven like the live loop drives it (warm-up history,
closed and amended bars recorded, a cycle per bar) over the simulated venue:
identical decisions, and a replay that notices when its inputs are not the
ones the bot saw."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from bastion.config import parse_config
from bastion.data.recorder import Recorder
from bastion.engine.live import build_strategies
from bastion.engine.replay import ReplayError, replay_day
from bastion.engine.session import open_session
from bastion.model import Bar, Instrument
from bastion.observe.journal import read_events
from bastion.venues.sim import SimVenue

DAY = date(2026, 1, 5)
T0 = 1_767_571_200_000  # 2026-01-05 00:00 UTC
MIN = 60_000
SYM = "BTC/USDT"


def run_session(folder: Path, n: int = 80) -> None:
    config = parse_config(
        {
            "strategies": [{"name": "sma_cross", "symbols": [SYM],
                            "params": {"fast": 3, "slow": 8, "qty": "0.01"}}],
            "risk": {"rate": {"enabled": False}},
        }
    )  # fmt: skip
    (folder / "bot.toml").write_text(
        '[[strategies]]\nname = "sma_cross"\nsymbols = ["BTC/USDT"]\n'
        'params = { fast = 3, slow = 8, qty = "0.01" }\n[risk.rate]\nenabled = false\n'
    )
    rng = np.random.default_rng(3)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, n + 10)))
    venue = SimVenue([Instrument.spot(SYM)], {"USDT": Decimal(100_000)})
    session = open_session(
        data_dir=folder, venue=venue, strategies=build_strategies(config), config=config,
        intervals={SYM: MIN}, now=T0 + 9 * MIN,
    )  # fmt: skip
    gate = session.bot.gate
    gate.keep_prior = True
    rec = Recorder(folder, flush_s=3600)

    def bar(i: int, close: float) -> Bar:
        c = float(close)
        return Bar(symbol=SYM, ts=T0 + i * MIN, interval_ms=MIN, open=c, high=c * 1.001,
                   low=c * 0.999, close=c, volume=10.0)  # fmt: skip

    for i in range(10):  # warm-up history, before the first decision
        b = bar(i, closes[i])
        gate.on_bar(SYM, b.ts, b.open, b.high, b.low, b.close, b.volume)
        rec.bar(b, T0 + 9 * MIN + 1, "warmup")
    for i in range(10, n + 10):
        b = bar(i, closes[i])
        now = b.ts + MIN + 5
        venue.on_bar(SYM, b.ts, b.open, b.high, b.low, b.close, b.volume)
        venue.set_time(now)
        gate.on_bar(SYM, b.ts, b.open, b.high, b.low, b.close, b.volume)
        rec.bar(b, now, "closed")
        if i % 7 == 0:  # a late trade amends the newest bar before the decision
            fixed = bar(i, closes[i] * 1.003)
            gate.amend(fixed)
            rec.bar(fixed, now, "amended")
        session.cycle(now)
    rec.close()
    session.close()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("replay")
    run_session(folder)
    return folder


def config_of(folder: Path):
    from bastion.config import load_config

    return load_config(folder / "bot.toml")


def test_a_recorded_session_replays_identically(recorded: Path) -> None:
    result = replay_day(config_of(recorded), recorded, DAY)

    assert result.identical, result.differences[:3]
    assert result.cycles == 80
    assert result.decisions >= 4
    assert result.decisions == len(list(read_events(recorded, kinds=["risk_decision"])))


def test_a_replay_over_other_inputs_is_not_identical(recorded: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(recorded, copy)
    for path in sorted((copy / "recorded" / DAY.isoformat()).glob("bars-*.parquet")):
        table = pq.read_table(path).to_pylist()
        for row in table:
            if row["kind"] == "amended":
                row["kind"] = "closed"  # as if the correction had been lost
        import pyarrow as pa

        pq.write_table(pa.Table.from_pylist(table, schema=pq.read_schema(path)), path)

    result = replay_day(config_of(copy), copy, DAY)

    assert not result.identical


def test_a_day_without_decision_contexts_is_refused(recorded: Path) -> None:
    with pytest.raises(ReplayError, match="no cycle with a journaled decision context"):
        replay_day(config_of(recorded), recorded, date(2026, 1, 6))

"""Shadow mode and the version gate, on the emulator through the real ccxt client.

The fat-finger scenario: version 1 holds 0.001 BTC live; version 2 (a sizing
bug: 5 BTC) is deployed beside it in shadow. The shadow decides, is reviewed
by risk against its simulated book and journals what it would have done, and
not one of its orders reaches the exchange; the shadow report shows where the
two versions part; and flipping the flag to version 2 before it has run its
hours in shadow is refused at start (``--force-reason`` overrides it, on the
record).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from live_support import FAST_POLICY, SECOND, SYMBOL, LiveRig, admin, make_venue, start_emulator
from live_support import wall_ms as now_ms

from bastion.config import BotConfig, parse_config
from bastion.engine import version_gate
from bastion.engine.errors import LiveError
from bastion.engine.live import build_strategies, run_bot
from bastion.engine.session import open_session
from bastion.engine.shadow import split_modes
from bastion.observe.journal import Journal, read_events
from bastion.observe.shadow import evidence, report

HOLD = f"{Path(__file__).with_name('fatfinger.py')}:Hold"


def bot_config(folder: Path, *, trade: str | None = None, min_hours: float = 24) -> BotConfig:
    entry = {"name": HOLD, "id": "hold", "symbols": [SYMBOL]}
    return parse_config(
        {
            "data_dir": str(folder),
            "exchange": {"mode": "live", "base_url": "http://127.0.0.1:9", "key_env": "NOKEYS"},
            "strategies": [
                entry | {"params": {"qty": "0.001"}},
                entry | {"params": {"qty": "5"}, "mode": "shadow"},  # the sizing bug
            ],
            "shadow": {"min_hours": min_hours},
            "flags": {"trade": {"hold": trade}} if trade else {},
        }
    )


def run_rig(folder: Path, config: BotConfig, cycles: int) -> tuple[LiveRig, list[Any]]:
    thread, emu = start_emulator()
    venue = make_venue(emu)
    rig = LiveRig(folder, thread, emu, venue, None)  # type: ignore[arg-type]
    rig.quote()
    live, shadows = split_modes(config, build_strategies(config))
    rig.session = open_session(
        data_dir=folder, venue=venue, strategies=live, shadows=shadows, config=config,
        intervals={SYMBOL: SECOND}, now=now_ms(), policy=FAST_POLICY,
    )  # fmt: skip
    rig.step(cycles, settle_s=0.3)
    return rig, [*live, *shadows]


@pytest.fixture(scope="module")
def fat_finger(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("fatfinger")
    rig, (v1, v2) = run_rig(folder, bot_config(folder), cycles=4)
    try:
        received = admin(rig.emu, "/orders")["orders"]
        posts = admin(rig.emu, "/requests")["requests"]
        events = rig.events()
    finally:
        rig.close()
    return {"folder": folder, "v1": v1, "v2": v2, "received": received, "posts": posts,
            "events": events}  # fmt: skip


def of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["kind"] == kind]


def test_the_shadow_version_decides_but_no_order_of_it_reaches_the_exchange(fat_finger) -> None:
    events, v2 = fat_finger["events"], fat_finger["v2"]
    shadow_ids = {e["client_id"] for e in of(events, "shadow_risk_decision")}
    live_ids = [e["client_id"] for e in of(events, "order_submitted")]

    sent = [o["client_id"] for o in fat_finger["received"]]

    assert shadow_ids, "the shadow decided and was reviewed"
    assert all(e["strategy"] == str(v2.ref) for e in of(events, "shadow_cycle"))
    assert sent == live_ids and len(sent) == 1  # version 1's one buy, nothing else
    assert not shadow_ids & set(sent)
    assert all(Decimal(o["quantity"]) == Decimal("0.001") for o in fat_finger["received"])
    assert sum(n for call, n in fat_finger["posts"].items() if "POST /api/v3/order" in call) == 1


def test_risk_reviews_the_shadow_against_its_simulated_book(fat_finger) -> None:
    events = fat_finger["events"]
    decisions = of(events, "shadow_risk_decision")
    context = of(events, "shadow_context")[0]

    assert decisions[0]["verdict"] == "resize" and decisions[0]["reason"] == "ORDER_SIZE"
    assert Decimal(decisions[0]["qty"]) == 5
    assert Decimal(context["account"]["balances"]["USDT"][0]) == 100_000  # seeded from it
    assert of(events, "shadow_order_submitted")  # sent to its simulated book only
    assert all(e.get("mode") is None for e in of(events, "risk_decision"))


def test_the_shadow_report_shows_the_divergence(fat_finger) -> None:
    v1, v2 = fat_finger["v1"], fat_finger["v2"]

    (c,) = report(fat_finger["folder"])

    assert (c.shadow, c.live) == (str(v2.ref), str(v1.ref))
    assert c.divergent_cycles >= 1 and c.intents == c.live_intents
    first = c.divergences[0]
    assert first["shadow"][0]["qty"] == "5" and first["live"][0]["qty"] == "0.001"
    assert c.rejections.get("ORDER_SIZE (resized)", 0) >= 1
    assert c.would_place and c.would_place[0]["strategy"] == str(v2.ref)
    assert c.hours > 0 and c.intents_per_hour > 0


def test_going_live_with_it_before_its_shadow_hours_is_refused(fat_finger) -> None:
    folder, v2 = fat_finger["folder"], fat_finger["v2"]
    promoted = bot_config(folder, trade=v2.ref.version)
    live, shadows = split_modes(promoted, build_strategies(promoted))

    with pytest.raises(LiveError, match=r"may not trade live yet: .* h in shadow of the 24 h"):
        version_gate.check(promoted, folder, live, force_reason=None, now=now_ms())
    with pytest.raises(LiveError, match="may not trade live yet"):  # the whole start refuses
        asyncio.run(run_bot(promoted, duration_s=5, status=lambda _: None, data_dir=folder))

    assert [s.ref for s in live] == [v2.ref] and len(shadows) == 1
    refused = list(read_events(folder, kinds=["version_gate"]))
    assert refused and all(e["verdict"] == "refused" and e["alert"] for e in refused)
    assert not list(read_events(folder, kinds=["session_start"]))[1:]  # no second session


def test_force_reason_overrides_the_gate_on_the_record(fat_finger, tmp_path: Path) -> None:
    folder, v2 = fat_finger["folder"], fat_finger["v2"]
    promoted = bot_config(folder, trade=v2.ref.version)
    live, _ = split_modes(promoted, build_strategies(promoted))

    found = version_gate.check(promoted, folder, live, force_reason="hotfix", now=now_ms())

    assert found[0]["verdict"] == "overridden"
    last = list(read_events(folder, kinds=["version_gate"]))[-1]
    assert last["force_reason"] == "hotfix" and last["alert"] is True


def test_enough_clean_shadow_time_lets_the_version_trade_and_a_halt_resets_it(
    fat_finger,
) -> None:
    folder, v1, v2 = fat_finger["folder"], fat_finger["v1"], fat_finger["v2"]
    promoted = bot_config(folder, trade=v2.ref.version, min_hours=0.0001)  # 0.36 s
    live, _ = split_modes(promoted, build_strategies(promoted))
    before = evidence(folder, "hold", v2.ref.version)

    allowed = version_gate.verdicts(promoted, folder, live)
    with Journal(folder / "journal.sqlite") as j:  # an operator's halt, as `bastion halt` writes
        j.append("latch", now_ms() + 10, {"state": "HALTED", "reason": "test", "by": "op"})
    refused = version_gate.verdicts(promoted, folder, live)

    assert before.hours * 3600 > 0.36 and before.bot_traded_live and not before.traded_live
    assert allowed[0]["verdict"] == "allowed"
    assert refused[0]["verdict"] == "refused" and "latch" in refused[0]["why"]
    assert evidence(folder, "hold", v1.ref.version).traded_live  # v1 is always allowed back


def test_flags_choose_the_trading_version(tmp_path: Path) -> None:
    config = bot_config(tmp_path)
    v1, v2 = build_strategies(config)

    assert split_modes(config, [v1, v2]) == ([v1], [v2])
    flipped = bot_config(tmp_path, trade=v2.ref.version)
    assert split_modes(flipped, [v1, v2]) == ([v2], [v1])
    with pytest.raises(LiveError, match="no \\[\\[strategies\\]\\] entry 'hold' has that version"):
        split_modes(bot_config(tmp_path, trade="0" * 12), [v1, v2])
    both = parse_config(config.model_dump(mode="json") | {"strategies": [
        s | {"mode": "live"} for s in config.model_dump(mode="json")["strategies"]]})  # fmt: skip
    assert split_modes(both, build_strategies(both))[1] == []  # one id on two entries: both trade


def test_the_shadow_report_command_prints_the_comparison(fat_finger) -> None:
    from typer.testing import CliRunner

    from bastion.cli import app

    runner = CliRunner()
    folder = str(fat_finger["folder"])

    text = runner.invoke(app, ["shadow", "report", folder], env={"COLUMNS": "160"})
    data = runner.invoke(app, ["shadow", "report", folder, "--json"])

    assert text.exit_code == 0, text.output
    for part in ("intents per hour", "cycles compared / divergent", "ORDER_SIZE (resized)",
                 "orders it would have placed", "where they differ"):  # fmt: skip
        assert part in text.output
    (c,) = __import__("json").loads(data.output)
    assert c["divergent_cycles"] >= 1 and c["would_place"]


def test_a_shadow_order_is_explained_as_never_sent(fat_finger) -> None:
    from bastion.observe.explain import explain

    events, v2 = fat_finger["events"], fat_finger["v2"]
    cid = of(events, "shadow_order_submitted")[0]["client_id"]

    ex = explain(fat_finger["folder"], cid)

    assert ex.mode == "shadow" and ex.strategy is not None and ex.strategy["mode"] == "shadow"
    assert ex.strategy["version"] == v2.ref.version and ex.intent is not None
    assert ex.intent["qty"] == "5" and ex.decision is not None
    assert ex.decision["verdict"] == "resize"
    assert ex.context is not None and ex.account is not None  # the simulated book it saw
    assert ex.events[0]["kind"] == "order_submitted"


def test_a_backtest_of_the_bot_leaves_the_shadow_out(tmp_path: Path) -> None:
    from bastion.engine.inputs import choose
    from bastion.model import BarSeries

    config = bot_config(tmp_path)
    ts = np.arange(3, dtype=np.int64) * 60_000
    one = np.ones(3)
    series = BarSeries(symbol=SYMBOL, interval_ms=60_000, ts=ts, open=one, high=one, low=one,
                       close=one, volume=one)  # fmt: skip

    chosen = choose(config, {SYMBOL: series}, strategy=None, params={}, base_dir=tmp_path)

    assert [s.params.qty for s in chosen.strategies] == [Decimal("0.001")]

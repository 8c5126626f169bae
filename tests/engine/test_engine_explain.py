"""``bastion explain``: every order of a run can be explained from the journal
alone: the view and account it was decided on, the strategy, intent, plan,
each rule's verdict, its venue events and fills."""

from __future__ import annotations

import json
from pathlib import Path

from tests.engine.conftest import walk
from typer.testing import CliRunner

from bastion.cli import app
from bastion.config import parse_config
from bastion.engine.backtest import run_backtest
from bastion.observe.explain import explain, verdicts
from bastion.observe.journal import read_events
from bastion.strategy import build_strategy

runner = CliRunner()


def _run(tmp_path: Path, qty: str) -> Path:
    series = walk(1500, seed=5)
    strat = build_strategy("sma_cross", [series.symbol], {"fast": 5, "slow": 20, "qty": qty})
    run_backtest([series], [strat], parse_config({}), journal_path=tmp_path / "journal.sqlite")
    return tmp_path


def test_an_approved_order_is_explained_with_what_the_strategy_saw(tmp_path: Path) -> None:
    folder = _run(tmp_path, "0.1")
    cid = next(read_events(folder, kinds=["order_submitted"]))["client_id"]

    ex = explain(folder, cid)

    assert ex.strategy is not None
    assert ex.strategy["params"] == {"fast": 5, "slow": 20, "qty": "0.1"}
    assert ex.context is not None
    view = ex.context["view"]["SYN/USDT"]
    fast, slow = view["ind"]["SMA(5,close)"], view["ind"]["SMA(20,close)"]
    assert fast is not None and slow is not None and fast > slow  # it bought on the cross
    assert ex.account is not None and "USDT" in ex.account["balances"]
    assert ex.intent == {"symbol": "SYN/USDT", "qty": "0.1", "kind": "target_position"}
    assert ex.planned is not None and ex.planned[:3] == [cid, "buy", "0.1"]
    assert ex.decision is not None and ex.decision["verdict"] == "approve"
    assert ex.verdicts and all(v == "pass" for _, v in ex.verdicts)
    assert [e["kind"] for e in ex.events][:1] == ["order_submitted"]
    assert ex.events[-1]["kind"] == "order_filled"
    assert len(ex.fills) == 1 and ex.fills[0]["qty"] == "0.1"
    assert ex.account_after is not None and ex.account_after["positions"]["SYN/USDT"][0] == "0.1"


def test_the_account_is_journaled_once_while_it_does_not_change(tmp_path: Path) -> None:
    folder = _run(tmp_path, "0.1")

    contexts = list(read_events(folder, kinds=["context"]))

    assert contexts, "a cycle that decided journals its context"
    assert all(("account" in c) != ("account_cycle" in c) for c in contexts)
    by_cycle = {c["cycle"]: c for c in contexts}
    for c in contexts:
        if "account_cycle" in c:
            assert "account" in by_cycle[c["account_cycle"]]


def test_a_resized_order_shows_the_rule_that_resized_it(tmp_path: Path) -> None:
    folder = _run(tmp_path, "5000")  # 500,000 of notional on 100,000 of cash
    resized = next(
        e for e in read_events(folder, kinds=["risk_decision"]) if e["verdict"] == "resize"
    )

    ex = explain(folder, resized["client_id"])

    verdicts = dict(ex.verdicts)
    assert verdicts.pop(resized["rule"]) == f"resize {resized['reason']}"
    assert set(verdicts.values()) == {"pass"}
    assert ex.planned is not None and ex.planned[2] == "5000"  # planned in full, sent smaller
    assert ex.events[0]["qty"] == resized["approved_qty"]


def test_after_a_rejection_the_later_rules_were_not_asked() -> None:
    decision = {"verdict": "reject", "rule": "order_rate", "reason": "ORDER_RATE"}

    out = verdicts(["halt", "order_rate", "precision"], decision)

    assert out == [
        ("halt", "pass"),
        ("order_rate", "reject ORDER_RATE"),
        ("precision", "not asked"),
    ]


def test_the_command_prints_every_part_and_json(tmp_path: Path) -> None:
    folder = _run(tmp_path, "0.1")
    cid = next(read_events(folder, kinds=["order_submitted"]))["client_id"]

    text = runner.invoke(app, ["explain", str(folder), cid], env={"COLUMNS": "120"})
    as_json = runner.invoke(app, ["explain", str(folder), cid, "--json"])
    missing = runner.invoke(app, ["explain", str(folder), "bnnope-1-0-0"])

    assert text.exit_code == 0, text.output
    for part in ("who decided", "what it saw", "SMA(5,close)", "planned order", "precision",
                 "venue events", "fills", "account after"):  # fmt: skip
        assert part in text.output
    data = json.loads(as_json.output)
    assert data["client_id"] == cid and data["context"]["cycle"] == data["decision"]["cycle"]
    assert missing.exit_code == 2
    assert "no order with client id 'bnnope-1-0-0'" in missing.output
    assert "Traceback" not in missing.output

"""``bastion account``: show the split, change a baseline with a journaled reason."""

from __future__ import annotations

from decimal import Decimal

from typer.testing import CliRunner

from bastion.cli import app
from bastion.observe.journal import read_events
from bastion.state.baseline import AssetShare, BaselineStore


def _config(tmp_path):
    path = tmp_path / "bot.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    return path


def test_account_baseline_set_moves_quantity_to_the_bot_and_journals_it(tmp_path):
    cfg = _config(tmp_path)
    with BaselineStore(tmp_path / "data") as store:
        store.save({"BTC": AssetShare(baseline=Decimal(1))}, ts=1, reason="first start", by="bot")

    out = CliRunner().invoke(
        app,
        ["account", "baseline", "--config", str(cfg), "--asset", "btc", "--set", "0.4",
         "--reason", "hand the bot 0.6"],
    )  # fmt: skip

    assert out.exit_code == 0, out.output
    with BaselineStore(tmp_path / "data") as store:
        share = store.load()["BTC"]
        history = store.history("BTC")
    # What left the baseline is the bot's now: the running bot sees no unexplained change.
    assert (share.baseline, share.adopted) == (Decimal("0.4"), Decimal("0.6"))
    assert history[-1].reason == "hand the bot 0.6" and history[-1].previous == Decimal(1)
    (event,) = read_events(tmp_path / "data", kinds=["baseline_changed"])
    assert event["asset"] == "BTC" and event["baseline"] == "0.4" and event["by"]

    shown = CliRunner().invoke(app, ["account", "--config", str(cfg)])
    assert shown.exit_code == 0, shown.output
    assert "BTC" in shown.output and "0.4" in shown.output and "paper mode" in shown.output


def test_account_baseline_refuses_bad_input_in_one_line(tmp_path):
    cfg = _config(tmp_path)
    runner = CliRunner()
    base = ["account", "baseline", "--config", str(cfg), "--asset", "BTC", "--reason", "r"]
    for qty, why in (("-1", "at least 0"), ("nan", "finite"), ("x", "quantity")):
        out = runner.invoke(app, [*base, "--set", qty])
        assert out.exit_code == 2 and why in out.output and "Traceback" not in out.output
    # No baseline recorded yet: setting one would hide the other assets' holdings.
    (tmp_path / "data").mkdir()
    BaselineStore(tmp_path / "data").close()
    out = runner.invoke(app, [*base, "--set", "1"])
    assert out.exit_code == 2 and "no baseline recorded" in out.output

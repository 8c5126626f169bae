"""Logs: a JSON file in the data folder with rotation, a readable console, the
level from --log-level; canary secrets never appear in either."""

from __future__ import annotations

import json
import logging

import pytest
from observe_support import CANARY_KEY, CANARY_SECRET
from typer.testing import CliRunner

from bastion.cli import app
from bastion.observe import logs


@pytest.fixture(autouse=True)
def _reset():
    yield
    logs.set_level_override(None)
    for h in list(logging.getLogger(logs.LOGGER).handlers):
        logging.getLogger(logs.LOGGER).removeHandler(h)
        h.close()


def test_secrets_and_signatures_are_masked_in_the_file_and_on_the_console(
    tmp_path, monkeypatch, capfd
):
    monkeypatch.setenv("BASTION_LIVE_API_KEY", CANARY_KEY)
    monkeypatch.setenv("BASTION_LIVE_API_SECRET", CANARY_SECRET)
    log = logs.configure(tmp_path, level="debug")
    log.warning(f"venue said: bad key {CANARY_KEY}")
    log.info(
        "request", url=f"https://x/api/v3/order?a=1&signature={'ab12' * 16}", apiKey=CANARY_KEY
    )
    log.info(
        "config",
        secret="plain-looking-value",
        password="hunter2hunter2",
        nested={"token": "t0k3n-xyz"},
    )
    try:
        raise RuntimeError(f"auth failed with {CANARY_SECRET}")
    except RuntimeError:
        log.exception("failed")
    logging.getLogger("bastion").error("stdlib line %s", CANARY_SECRET)  # foreign records too
    for h in logging.getLogger(logs.LOGGER).handlers:
        h.flush()
    text = (tmp_path / "bastion.log.jsonl").read_text()
    console = capfd.readouterr().err
    for where in (text, console):
        for secret in (CANARY_KEY, CANARY_SECRET, "ab12ab12ab12ab12", "hunter2hunter2", "t0k3n-xyz",
                       "plain-looking-value"):  # fmt: skip
            assert secret not in where
    rows = [json.loads(line) for line in text.splitlines()]
    assert [r["event"] for r in rows][:3] == ["venue said: bad key ***", "request", "config"]
    assert rows[0]["level"] == "warning" and "timestamp" in rows[0]
    assert "signature=***" in rows[1]["url"]
    assert "failed" in console and "{" not in console.splitlines()[0]  # readable, not JSON


def test_the_file_rotates(tmp_path):
    log = logs.configure(tmp_path, level="info", max_bytes=10_000, backups=2, console=False)
    for i in range(400):
        log.info("filler", i=i, pad="x" * 100)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["bastion.log.jsonl", "bastion.log.jsonl.1", "bastion.log.jsonl.2"]


def test_log_level_from_the_command_line(tmp_path, capfd):
    logs.set_level_override("error")
    log = logs.configure(tmp_path, level="debug")
    log.warning("not shown")
    log.error("shown")
    for h in logging.getLogger(logs.LOGGER).handlers:
        h.flush()
    text = (tmp_path / "bastion.log.jsonl").read_text()
    assert "shown" in text and "not shown" not in text
    r = CliRunner().invoke(app, ["--log-level", "loud", "stats", "--config", "x.toml"])
    assert r.exit_code == 2 and "loud" in r.output and "Traceback" not in r.output

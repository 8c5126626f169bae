"""The whole stack inside a running bot (``bastion run`` with ``[observe]``):
run_bot trades on the emulator through ccxt with canary API keys, the
dashboard and /metrics serve from its process, alerts for its start and stop
reach a local receiver, the JSON log lands in the data folder, and the canary
secrets appear nowhere: not in the log, the journal, the pages, the metrics
or the alerts."""

from __future__ import annotations

import asyncio
import threading
import urllib.request
from decimal import Decimal

import pytest
from observe_support import CANARY_KEY, CANARY_SECRET, TOKEN, Receiver, free_port, wait_for
from tests.stages import live_folder

from bastion.config import parse_config
from bastion.emulator import EmulatorConfig, EmulatorThread
from bastion.engine.live import LiveError, run_bot

pytestmark = pytest.mark.slow


def _config(emu, folder, port, urls):
    live_folder(folder)  # live mode needs a promoted folder
    return parse_config(
        {
            "name": "observed",
            "data_dir": str(folder),
            "exchange": {
                "id": "binance", "mode": "live", "base_url": emu.url, "ws_url": emu.ws_url,
                "key_env": "BASTION_CANARY", "bar_interval": "1s", "refresh_s": 0.5,
                "feed_stale_s": 5, "call_timeout_s": 2, "rate_limit": False,
            },
            "strategies": [{"name": "quoter", "symbols": ["BTC/USDT"], "params": {
                "spread_bps": "20", "qty": "0.01", "max_inventory": "0.05", "requote_bps": 0.0}}],
            "observe": {
                "poll_s": 0.1,
                "dashboard": {"enabled": True, "port": port},
                "alerts": {
                    "enabled": True,
                    "routes": {"info": urls, "warning": urls, "critical": urls},
                },
            },
        }
    )  # fmt: skip


def test_the_whole_stack_runs_inside_the_bot_and_leaks_no_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("BASTION_CANARY_API_KEY", CANARY_KEY)
    monkeypatch.setenv("BASTION_CANARY_API_SECRET", CANARY_SECRET)
    monkeypatch.setenv("BASTION_DASHBOARD_TOKEN", TOKEN)
    thread = EmulatorThread(
        EmulatorConfig(source="synthetic", rate=20, balances={"USDT": Decimal(100_000)},
                       api_keys={CANARY_KEY: CANARY_SECRET})
    )  # fmt: skip
    emu = thread.start()
    recv = Receiver()
    port = free_port()
    folder = tmp_path / "bot"
    pages: dict[str, str] = {}

    def scrape() -> None:
        base = f"http://127.0.0.1:{port}"
        if not wait_for(lambda: _ok(base + "/metrics"), 20):
            return
        wait_for(lambda: "bastion_fills_total" in _read(base + "/metrics"), 10)
        pages["metrics"] = _read(base + "/metrics")
        req = urllib.request.Request(
            base + "/api/state", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        pages["state"] = urllib.request.urlopen(req, timeout=5).read().decode()
        pages["page"] = _read(base + "/")

    scraper = threading.Thread(target=scrape)
    scraper.start()
    try:
        summary = asyncio.run(
            run_bot(_config(emu, folder, port, [recv.url]), duration_s=6, status=lambda s: None)
        )
        scraper.join(30)
        assert summary.cycles >= 2
        assert wait_for(lambda: any("bot stopped" in t for t in recv.titles()), 10)
        assert sum("bot started" in t for t in recv.titles()) == 1
        assert '"cycles"' in pages["state"] and "bastion_cycles_total" in pages["metrics"]
        log = (folder / "bastion.log.jsonl").read_bytes()
        assert b'"kind": "cycle"' in log or b'"kind":"cycle"' in log
        journal = b"".join(p.read_bytes() for p in folder.glob("journal.sqlite*"))
        for blob in (log, journal, *(v.encode() for v in pages.values()), *recv.raw):
            assert CANARY_KEY.encode() not in blob and CANARY_SECRET.encode() not in blob
    finally:
        recv.close()
        thread.stop()


def test_a_dashboard_without_a_token_refuses_to_start_the_bot(tmp_path, monkeypatch):
    monkeypatch.delenv("BASTION_DASHBOARD_TOKEN", raising=False)
    cfg = parse_config({"strategies": [{"name": "quoter", "symbols": ["BTC/USDT"]}],
                        "observe": {"dashboard": {"enabled": True}}})  # fmt: skip
    with pytest.raises(LiveError, match="BASTION_DASHBOARD_TOKEN is not set"):
        asyncio.run(run_bot(cfg, duration_s=1, data_dir=tmp_path, status=lambda s: None))


def _read(url: str) -> str:
    return urllib.request.urlopen(url, timeout=5).read().decode()


def _ok(url: str) -> bool:
    try:
        _read(url)
        return True
    except OSError:
        return False


def test_bastion_dashboard_serves_a_data_folder_from_its_own_process(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from bastion.observe.journal import Journal

    folder = tmp_path / "bot"
    with Journal(folder / "journal.sqlite") as j:
        j.append("cycle", 1, {"cycle": 1})
    port = free_port()
    cfg = tmp_path / "bot.toml"
    cfg.write_text(f'data_dir = "{folder}"\n[observe.dashboard]\nport = {port}\n')
    env = {**os.environ, "BASTION_DASHBOARD_TOKEN": TOKEN}
    bad = subprocess.run(
        [sys.executable, "-m", "bastion.cli", "dashboard", "--config", str(cfg)],
        env={k: v for k, v in env.items() if k != "BASTION_DASHBOARD_TOKEN"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "BASTION_DASHBOARD_TOKEN" in bad.stderr
    assert "Traceback" not in bad.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "bastion.cli", "dashboard", "--config", str(cfg)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: _ok(base + "/metrics"), 30)
        req = urllib.request.Request(
            base + "/api/state", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert '"cycles":1' in urllib.request.urlopen(req, timeout=5).read().decode()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()

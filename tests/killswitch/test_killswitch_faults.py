"""``bastion kill`` from a shell while the exchange times out and answers 5xx:
it retries, looks up closes of unknown outcome by client id instead of
sending them again, and reports success once the exchange shows flat."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from decimal import Decimal

import pytest
from killswitch_support import (
    THREE,
    admin,
    emulator,
    env,
    exchange_state,
    place_resting,
    venue,
    write_config,
)

pytestmark = pytest.mark.slow


def test_kill_through_timeouts_and_5xx_never_doubles_a_close(tmp_path):
    with emulator() as (emu, _):
        place_resting(emu, THREE)
        cfg = write_config(tmp_path, emu)
        held_before, _ = exchange_state(emu, THREE)
        admin(
            emu,
            "/faults",
            {
                "faults": [
                    # the first two closes are placed but never answered
                    {"kind": "timeout_after_accept", "path": "/api/v3/order", "method": "POST",
                     "count": 2, "hang_s": 5},
                    # cancels fail with a load balancer's 503, three times
                    {"kind": "http_error", "status": 503, "path": "/api/v3/order",
                     "method": "DELETE", "count": 3},
                    # and the account read is down for the first second
                    {"kind": "http_error", "status": 502, "path": "/api/v3/account",
                     "duration_s": 1.0},
                ]
            },
        )  # fmt: skip

        out = subprocess.run(
            [sys.executable, "-m", "bastion.killswitch", "kill", "--config", str(cfg), "--json"],
            env=env(),
            check=False,
            capture_output=True,
            text=True,
            timeout=90,
        )

        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        report = json.loads(out.stdout)
        assert report["ok"] and report["unresolved"] == []
        assert exchange_state(emu, THREE) == ({}, 0)
        errors = " ".join(report["errors"])
        assert "Timeout" in errors and "Unavailable" in errors  # the faults did fire
        ours = [o for o in admin(emu, "/orders")["orders"] if o["client_id"].startswith("ks")]
        # every close went out once under its id, and none was refused for lack of
        # balance (what a doubled close of a spot position looks like)
        assert max(Counter(o["client_id"] for o in ours).values()) == 1
        assert all(o["outcome"] == "accepted" for o in ours), ours
        looked_up = [c for c in report["closes"] if c.get("looked_up")]
        assert len(looked_up) == 2 and all(c["status"] != "not placed" for c in looked_up)
        # the exchange's own fills: what the kill sold is exactly what was held
        v = venue(emu, THREE)
        try:
            fills = [f for f in v.fetch_fills() if f.client_id.startswith("ks")]
        finally:
            v.close()
        sold: dict[str, Decimal] = {}
        for f in fills:
            assert f.side.value == "sell"
            base = f.symbol.split("/")[0]
            sold[base] = sold.get(base, Decimal(0)) + f.qty
        assert sold == held_before

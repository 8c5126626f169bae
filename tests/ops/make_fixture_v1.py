"""Make ``tests/fixtures/folder_v1``: a bot's data folder written by the schema
of before schema versions (commit 876ed0e, "version 1"), kept so that every
later schema is tested against a real old folder: the journal, the order
store, the latch file (halt latch and baseline), the paper book and a day of
recorded trades. Run once, from the worktree, with the code of that commit:

    PYTHONPATH=$PWD/src:$PWD python tests/ops/make_fixture_v1.py

(It was run at commit 634b62f, simbot.py as it was then: the code of 876ed0e
plus the simulation.)
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tests.ops.simbot import T0, run_days

from bastion.engine.latch import change_latch
from bastion.risk import HaltState

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "folder_v1"

if __name__ == "__main__":
    if OUT.exists():
        sys.exit(f"{OUT} exists: it is the record of an old schema, never regenerated")
    OUT.mkdir(parents=True)
    end = run_days(OUT, 2, start=T0, seed=5)
    change_latch(OUT, HaltState.HALTED, "fixture: an operator's halt", "operator", end)
    change_latch(OUT, HaltState.ACTIVE, "fixture: resumed", "operator", end + 1000)
    (OUT / "bot.lock").unlink(missing_ok=True)
    for stray in OUT.glob("*-wal"):
        sys.exit(f"{stray}: a WAL file was left behind")
    print(f"wrote {OUT}: {sorted(p.name for p in OUT.iterdir())}")
    shutil.rmtree(OUT / "__pycache__", ignore_errors=True)

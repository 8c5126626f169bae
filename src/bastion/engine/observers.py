"""Start the observers (``[observe]``) beside a live or paper bot.

They get the data folder and a way to write the latch (the dashboard's halt
and resume buttons write it exactly as ``bastion halt`` does); never the bot.
Logs are set up here too: the JSON file in the data folder and the console.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from bastion.clock import wall_ms
from bastion.config import BotConfig
from bastion.engine.latch import change_latch
from bastion.observe.logs import configure
from bastion.observe.service import ObserveService
from bastion.risk.latch import HaltState


class ObserveError(RuntimeError):
    """The observers cannot start as configured (no dashboard token)."""


def latch_writer(folder: Path) -> Callable[[str, str, str], str]:
    def write(state: str, reason: str, by: str) -> str:
        return change_latch(folder, HaltState(state), reason, by, wall_ms(), source="dashboard")

    return write


def start_observers(
    config: BotConfig, folder: Path, *, dashboard: bool | None = None
) -> ObserveService | None:
    logs = config.observe.logs
    configure(folder, level=logs.level, file=logs.file, max_bytes=logs.max_bytes,
              backups=logs.backups)  # fmt: skip
    obs = config.observe
    want_dashboard = obs.dashboard.enabled if dashboard is None else dashboard
    if not (want_dashboard or obs.alerts.enabled or obs.digest.enabled):
        return None
    if want_dashboard and not os.environ.get(obs.dashboard.token_env):
        raise ObserveError(
            f"[observe.dashboard] is on but ${obs.dashboard.token_env} is not set: "
            "the dashboard needs a token"
        )
    service = ObserveService(
        config, folder, clock=wall_ms, dashboard=want_dashboard, latch_writer=latch_writer(folder)
    )
    return service.start()

"""The sentinel process: the HTTP API, the watchdog and warm exchange connections.

Started as ``bastion sentinel --config bot.toml``, apart from the bot, so that
a bot that is dead, hung or spinning cannot take its kill switch with it. It
refuses to start without a token (a kill button nobody can press, or anybody
can, is worse than none). The exchange is connected in the background: a
sentinel started while the exchange is unreachable serves its page and
retries at the first kill or status request.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from bastion.config import BotConfig
from bastion.killswitch.app import Sentinel, make_app
from bastion.killswitch.audit import AUDIT_FILE, AuditLog
from bastion.killswitch.kill import KillSwitch
from bastion.killswitch.watchdog import Pager, Watchdog

Status = Callable[[str], None]


class SentinelError(RuntimeError):
    """The sentinel cannot start (no token, for one)."""


def audit_path(config: BotConfig, data_dir: Path) -> Path:
    return (
        Path(config.killswitch.audit_log) if config.killswitch.audit_log else data_dir / AUDIT_FILE
    )


def alert_urls(config: BotConfig) -> list[str]:
    """Where the heartbeat page goes through apprise: the alerts' critical route
    (config routes and ``$urls_env``, as the bot's observers read them), when
    ``[observe.alerts]`` is on."""
    a = config.observe.alerts
    if not a.enabled:
        return []
    return [*a.routes.get("critical", ()), *os.environ.get(a.urls_env, "").split()]


def build_sentinel(config: BotConfig, data_dir: Path) -> Sentinel:
    ks = config.killswitch
    token = os.environ.get(ks.token_env, "")
    if not token:
        raise SentinelError(
            f"set the kill token in ${ks.token_env} (the sentinel will not start without one)"
        )
    audit = AuditLog(audit_path(config, data_dir))
    killswitch = KillSwitch(config, data_dir)

    def kill_on_loss(reason: str) -> None:
        report = killswitch.kill(reason=reason, by="sentinel watchdog")
        audit.append("kill_done", remote="watchdog", ok=report["ok"], elapsed_s=report["elapsed_s"])

    watchdog = Watchdog(
        data_dir,
        timeout_s=ks.heartbeat_timeout_s,
        flatten=ks.on_heartbeat_loss == "flatten",
        pager=Pager(
            ks.webhook,
            ks.command,
            audit,
            apprise_urls=alert_urls(config),
            bot=config.name,
            retries=config.observe.alerts.retries,
            retry_base_s=config.observe.alerts.retry_base_s,
        ),
        audit=audit,
        kill=kill_on_loss,
    )
    return Sentinel(killswitch, audit, token, watchdog)


def run_sentinel(config: BotConfig, data_dir: Path, *, status: Status = print) -> None:
    """Serve until interrupted (SIGINT/SIGTERM)."""
    import uvicorn  # only the sentinel needs the web server

    sentinel = build_sentinel(config, data_dir)
    ks = config.killswitch
    stop = threading.Event()
    threading.Thread(target=sentinel.killswitch.venues.connect, daemon=True).start()
    if sentinel.watchdog is not None:
        threading.Thread(target=sentinel.watchdog.run, args=(stop,), daemon=True).start()
    server = uvicorn.Server(
        uvicorn.Config(
            make_app(sentinel),
            host=ks.host,
            port=ks.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    )
    sentinel.audit.append("sentinel_start", host=ks.host, port=ks.port, pid=os.getpid())
    status(f"bastion sentinel: http://{ks.host}:{ks.port}/ watching {data_dir}")
    sys.stdout.flush()
    try:
        server.run()
    finally:
        stop.set()
        sentinel.audit.append("sentinel_stop", pid=os.getpid())
        sentinel.killswitch.close()

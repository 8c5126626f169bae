"""Operator commands for the observers: ``bastion dashboard``, ``bastion alert
test``, ``bastion digest`` and ``bastion stats``, and what the global
``--log-level`` sets.

Each reads the bot's config and its data folder (the journal); none talks to
the bot. ``register(app)`` adds them to the ``bastion`` command.
"""

from __future__ import annotations

import os
import signal
import threading
from datetime import date
from pathlib import Path
from typing import Annotated, cast

import typer

from bastion.clock import wall_ms
from bastion.config import BotConfig, ConfigError, load_config
from bastion.model.timeframe import parse_interval
from bastion.observe.journal import find_journal, read_events

alert_app = typer.Typer(help="Alerts: check that they reach you.", no_args_is_help=True)
ConfigOpt = Annotated[Path, typer.Option("--config", help="bot.toml (its [observe] table).")]
DataOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data folder (default: data_dir in the config).")
]


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard_cmd)
    app.command("digest")(digest_cmd)
    app.command("stats")(stats_cmd)
    app.add_typer(alert_app, name="alert")


def set_log_level(log_level: str | None) -> None:
    """``bastion --log-level``: the JSON log file and the console (wins over
    ``BASTION_LOG_LEVEL`` and ``[observe.logs] level``)."""
    from bastion.observe.logs import LEVELS, set_level_override

    if log_level is not None and log_level.lower() not in LEVELS:
        raise typer.BadParameter(
            f"{log_level!r}: expected one of {', '.join(LEVELS)}", param_hint="--log-level"
        )
    set_level_override(log_level.lower() if log_level else None)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _load(config: Path, data_dir: Path | None) -> tuple[BotConfig, Path]:
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    return cfg, data_dir or Path(cfg.data_dir)


def dashboard_cmd(
    config: ConfigOpt,
    data_dir: DataOpt = None,
    port: Annotated[int | None, typer.Option(help="Port (default: the config's).")] = None,
    alerts: Annotated[
        bool,
        typer.Option(
            help="Also send the config's alerts (only when the bot itself does not: "
            "with [observe.alerts] on in the bot too, each alert goes out twice)."
        ),
    ] = False,
) -> None:
    """Serve the dashboard and /metrics from the bot's data folder, in this process."""
    from bastion.engine.observers import ObserveError, latch_writer
    from bastion.observe.logs import configure
    from bastion.observe.service import ObserveService

    cfg, folder = _load(config, data_dir)
    if port is not None:
        dash = cfg.observe.dashboard.model_copy(update={"port": port})
        cfg = cfg.model_copy(update={"observe": cfg.observe.model_copy(update={"dashboard": dash})})
    if not os.environ.get(cfg.observe.dashboard.token_env):
        raise _fail(f"${cfg.observe.dashboard.token_env} is not set: the dashboard needs a token")
    configure(folder, level=cfg.observe.logs.level, file="dashboard.log.jsonl")
    try:
        service = ObserveService(
            cfg, folder, clock=wall_ms, dashboard=True, alerts=alerts, digest=False,
            latch_writer=latch_writer(folder),
        ).start()  # fmt: skip
    except (ObserveError, ValueError) as exc:
        raise _fail(str(exc)) from None
    d = cfg.observe.dashboard
    typer.echo(f"dashboard on http://{d.host}:{d.port}/ (metrics at /metrics); Ctrl-C stops")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()


@alert_app.command("test")
def alert_test(
    config: ConfigOpt,
    severity: Annotated[str, typer.Option(help="info | warning | critical | all")] = "all",
) -> None:
    """Send one test message to every URL routed to SEVERITY; fail if any is refused."""
    from bastion.observe.alerting import Alert, Message, Severity
    from bastion.observe.notify import SEVERITIES, Notifier, routes_from

    cfg, _ = _load(config, None)
    a = cfg.observe.alerts
    routes = routes_from(a.routes, a.urls_env)
    wanted = SEVERITIES if severity == "all" else (severity,)
    if any(s not in SEVERITIES for s in wanted):
        raise _fail(f"--severity {severity!r}: expected info, warning, critical or all")
    notifier = Notifier(routes, clock=wall_ms, retries=0, bot=cfg.name)
    failed = 0
    for name in wanted:
        sev = cast("Severity", name)
        if not routes.get(sev):
            typer.echo(f"{sev}: no URL routed (config routes or ${a.urls_env})")
            continue
        alert = Alert(
            f"test:{sev}", sev, "test alert", f"bastion {cfg.name}: alert test", wall_ms()
        )
        ok = notifier.deliver_now(Message(alert, 1))
        failed += not ok
        typer.echo(f"{sev}: {'delivered' if ok else 'FAILED'} to {len(routes[sev])} URL(s)")
    if failed:
        raise typer.Exit(code=1)


def digest_cmd(
    config: ConfigOpt,
    day: Annotated[str, typer.Option("--date", help="Local day, YYYY-MM-DD.")],
    data_dir: DataOpt = None,
    send: Annotated[
        bool, typer.Option(help="E-mail it (SMTP settings in [observe.digest]).")
    ] = False,
    html_out: Annotated[
        Path | None, typer.Option("--html", help="Also write the HTML here.")
    ] = None,
) -> None:
    """The daily digest of one local day: printed, and e-mailed with --send."""
    from bastion.observe.digest import build_digest, render_html, render_text, subject
    from bastion.observe.mailer import MailError, build_message, send_mail

    cfg, folder = _load(config, data_dir)
    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise _fail(f"--date {day!r}: expected YYYY-MM-DD") from None
    try:
        journal = find_journal(folder)
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from None
    dc = cfg.observe.digest
    d = build_digest(
        read_events(journal), when, dc.timezone, parse_interval(cfg.exchange.bar_interval)
    )
    text, html = render_text(d, cfg.name), render_html(d, cfg.name)
    typer.echo(text)
    if html_out is not None:
        html_out.write_text(html, encoding="utf-8")
    if send:
        try:
            send_mail(dc, build_message(dc, subject(d, cfg.name), text, html))
        except MailError as exc:
            raise _fail(str(exc)) from None
        typer.echo(f"sent to {', '.join(dc.to)}")


def stats_cmd(
    config: ConfigOpt,
    since: Annotated[str, typer.Option(help="Span before now: 30m, 12h, 7d, or 'all'.")] = "7d",
    data_dir: DataOpt = None,
) -> None:
    """Per-strategy win rate, Sharpe, max drawdown, exposure, turnover of this bot."""
    from bastion.observe.live_stats import render, strategy_stats

    cfg, folder = _load(config, data_dir)
    try:
        journal = find_journal(folder)
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from None
    if since.strip().lower() == "all":
        since_ts = None
    else:
        try:
            since_ts = wall_ms() - parse_interval(since)
        except ValueError:
            raise _fail(f"--since {since!r}: expected a span like 30m, 12h, 7d, or 'all'") from None
    stats = strategy_stats(
        read_events(journal), interval_ms=parse_interval(cfg.exchange.bar_interval),
        since_ts=since_ts,
    )  # fmt: skip
    typer.echo(render(stats))

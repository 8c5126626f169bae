"""``bastion promote DIR --to live-small|live``: one rung up the stage ladder.

The shell only: the evidence is judged in ``bastion.promotion.evidence`` and
recorded by ``bastion.promotion.ladder``. A refusal prints what is missing
and exits 1, changing nothing; ``--force-reason`` overrides it, and the
override is journaled with the missing evidence and alerted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bastion.cli_risk import _operator
from bastion.clock import wall_ms
from bastion.config import BotConfig, load_config
from bastion.engine.service import stale_after_ms
from bastion.promotion.evidence import Evidence
from bastion.promotion.ladder import check, promote, rules_for
from bastion.state.stage import Stage

EXIT_REFUSED = 1


def register(app: typer.Typer) -> None:
    app.command("promote")(promote_cmd)


def promote_cmd(
    folder: Annotated[Path, typer.Argument(help="The bot's data folder.")],
    to: Annotated[str, typer.Option("--to", help="live-small | live")],
    config: Annotated[
        Path | None,
        typer.Option(help="The bot's TOML config: \\[promotion] thresholds, bar interval."),
    ] = None,
    force_reason: Annotated[
        str,
        typer.Option("--force-reason", help="Promote without the evidence; journaled and alerted."),
    ] = "",
    check_only: Annotated[
        bool,
        typer.Option("--check", help="Only show the evidence (exit 1 if short); change nothing."),
    ] = False,
) -> None:
    """Move the bot to the next stage when its journal holds the evidence:
    paper -> live-small (N days of paper, no unresolved order, no unexplained
    delta), live-small -> live (30 days including an adverse day survived
    without a limit breach)."""
    targets = {Stage.LIVE_SMALL.value, Stage.LIVE.value}
    if to not in targets:
        raise typer.BadParameter(f"{to!r}: expected live-small or live", param_hint="--to")
    cfg = load_config(config) if config is not None else BotConfig()
    target = Stage(to)
    rules = rules_for(target, cfg, stale_after_ms(cfg))
    if check_only:
        ev = check(folder, target, rules)
        typer.echo(f"{folder} at {_stage(ev)}: evidence for {to}: {_found(ev)}")
        for line in ev.missing:
            typer.echo(f"  - missing: {line}")
        if not ev.ok:
            raise typer.Exit(code=EXIT_REFUSED)
        typer.echo("the evidence holds: `bastion promote` without --check records the stage")
        return
    outcome = promote(
        folder, target, rules, now=wall_ms(), by=_operator(), force_reason=force_reason.strip()
    )
    ev = outcome.evidence
    if not outcome.promoted:
        typer.echo(f"promote refused: {folder} stays at {_stage(ev)}; missing for {to}:")
        for line in ev.missing:
            typer.echo(f"  - {line}")
        typer.echo(f"found: {_found(ev)}")
        raise typer.Exit(code=EXIT_REFUSED)
    if outcome.forced:
        typer.echo(f"FORCED: {folder} -> {to} without the evidence ({outcome.forced}); missing:")
        for line in ev.missing:
            typer.echo(f"  - {line}")
    else:
        typer.echo(f"promoted: {folder} {_stage(ev)} -> {to}")
    typer.echo(f"evidence: {_found(ev)}")
    typer.echo("the bot trades at the new stage from its next start")


def _stage(ev: Evidence) -> str:
    return "no recorded stage" if ev.stage is None else ev.stage.value


def _found(ev: Evidence) -> str:
    parts = [
        f"{ev.running_days:.1f} days of running ({ev.cycles} cycles)",
        f"{len(ev.unresolved)} unresolved orders",
        f"{len(ev.unexplained)} unexplained deltas",
    ]
    if ev.target is Stage.LIVE:
        parts.append(f"adverse days survived: {', '.join(ev.adverse_days) or 'none'}")
    return ", ".join(parts)

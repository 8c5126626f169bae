"""``bastion account``: what of the exchange account is the bot's.

``bastion account --config bot.toml`` shows per asset the account's holding
(read from the exchange in live mode), the baseline (held, not the bot's),
what was adopted, and the bot's share. ``bastion account baseline --config
bot.toml --asset BTC --set 0.5 --reason "..."`` changes one asset's baseline:
stored in the bot's state store with who and why, and journaled; a running
bot re-reads the account against it at its next cycle.

The shell only: the baseline lives in ``bastion.state.baseline``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer

from bastion.cli_risk import _operator
from bastion.clock import wall_ms
from bastion.config import BotConfig, ConfigError, load_config
from bastion.observe.journal import Journal
from bastion.state.baseline import AssetShare, BaselineStore
from bastion.state.store import state_path

JOURNAL_FILE = "journal.sqlite"

account_app = typer.Typer(
    help="The bot's share of the exchange account: holdings, baseline, the bot's.",
    invoke_without_command=True,
    no_args_is_help=False,
)

ConfigOpt = Annotated[Path, typer.Option("--config", help="The bot's TOML config.")]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="The bot's data folder (default: data_dir in the config)."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(account_app, name="account")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _load(config: Path, data_dir: Path | None) -> tuple[BotConfig, Path]:
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    return cfg, data_dir or Path(cfg.data_dir)


def _holdings(cfg: BotConfig) -> tuple[dict[str, Decimal] | None, str]:
    """The exchange's holdings per asset (live mode), or None and why not."""
    if cfg.exchange.mode != "live":
        return None, "paper mode: the account is the bot's paper book"
    from bastion.venues.ccxt import CcxtVenue, Credentials
    from bastion.venues.errors import VenueError

    ex = cfg.exchange
    creds = Credentials.from_env(ex.key_env)
    if creds is None:
        return None, f"{ex.key_env}_API_KEY / {ex.key_env}_API_SECRET are not in the environment"
    symbols = sorted({s for st in cfg.strategies for s in st.symbols})
    venue = CcxtVenue(
        ex.id,
        symbols,
        credentials=creds,
        base_url=ex.base_url,
        ws_url=ex.ws_url,
        sandbox=ex.sandbox,
        call_timeout_s=ex.call_timeout_s,
        rate_limit=ex.rate_limit,
        private_stream=False,
    )
    try:
        venue.start()
        acct = venue.fetch_account()
    except (VenueError, ValueError) as exc:
        return None, f"the exchange did not answer: {type(exc).__name__}: {exc}"
    finally:
        venue.close()
    return {a: b.total for a, b in acct.balances.items()}, ""


@account_app.callback()
def show(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option("--config", help="The bot's TOML config.")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Per asset: the account's holding, the baseline, adopted, and the bot's share."""
    if ctx.invoked_subcommand is not None:
        return
    if config is None:
        raise _fail("--config is required")
    cfg, folder = _load(config, data_dir)
    if not state_path(folder).exists():
        raise _fail(f"{folder} has no state store: no bot has started there yet")
    with BaselineStore(folder) as store:
        recorded = store.recorded()
        shares = store.load()
    held, why = _holdings(cfg)
    if not recorded:
        typer.echo(f"no baseline recorded in {folder} yet: the bot records one at its first start")
    rows = [("asset", "holding", "baseline", "adopted", "bot's share")]
    for asset in sorted(set(shares) | set(held or {})):
        share = shares.get(asset, AssetShare(baseline=Decimal(0)))
        holding = None if held is None else held.get(asset, Decimal(0))
        rows.append(
            (
                asset,
                "unknown" if holding is None else str(holding),
                str(share.baseline),
                str(share.adopted),
                "unknown" if holding is None else str(holding - share.baseline),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    if why:
        typer.echo(f"holdings: {why}")


@account_app.command("baseline")
def set_baseline(
    config: ConfigOpt,
    asset: Annotated[str, typer.Option("--asset", help="Asset code, e.g. BTC.")],
    qty: Annotated[str, typer.Option("--set", help="The new baseline quantity (not the bot's).")],
    reason: Annotated[str, typer.Option("--reason", help="Why: recorded with your user name.")],
    data_dir: DataDirOpt = None,
) -> None:
    """Change one asset's baseline, with a reason (journaled with your user name).

    Lowering it hands the difference to the bot (its share grows); raising it
    takes that much of the bot's share out of its hands."""
    if not reason.strip():
        raise _fail("--reason: a reason is required")
    try:
        value = Decimal(qty)
    except InvalidOperation:
        raise _fail(f"--set {qty!r}: expected a quantity such as 0.5") from None
    if not value.is_finite() or value < 0:
        raise _fail(f"--set {qty!r}: expected a finite quantity of at least 0")
    code = asset.strip().upper()
    if not code.isalnum():
        raise _fail(f"--asset {asset!r}: expected an asset code such as BTC")
    _cfg, folder = _load(config, data_dir)
    if not state_path(folder).exists():
        raise _fail(f"{folder} has no state store: no bot has started there yet")
    who, now = _operator(), wall_ms()
    with BaselineStore(folder) as store:
        if not store.recorded():
            raise _fail(
                f"no baseline recorded in {folder} yet: start the bot once (it records the "
                "account's holdings), or adopt assets with [account] adopt"
            )
        old = store.load().get(code, AssetShare(baseline=Decimal(0)))
        # What leaves the baseline becomes the bot's (and back): the account's
        # total of not-from-fills quantity is unchanged, so the change itself is
        # not an unexplained difference for the running bot.
        new = AssetShare(baseline=value, adopted=old.adopted + old.baseline - value)
        store.save({code: new}, ts=now, reason=reason, by=who)
    with Journal(folder / JOURNAL_FILE) as journal:
        journal.append(
            "baseline_changed",
            now,
            {
                "asset": code,
                "baseline": str(value),
                "previous": str(old.baseline),
                "reason": reason,
                "by": who,
                "source": "cli",
                "alert": True,
            },
        )
    typer.echo(f"{code} baseline {old.baseline} -> {value} by {who}: {reason}")

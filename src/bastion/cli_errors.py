"""Expected failures of any ``bastion`` command, each told in one line.

Every command, whichever module registers it, runs inside ``BastionGroup``:
an exception it lets escape is looked up in ``TABLE`` and, when it is one of
the failures an operator can cause or meet (a bad file, the network, refused
keys, a purity-guard refusal, a damaged database), it is printed as one plain
line on stderr and the command exits 2. A traceback is for bugs; ``bastion
--debug`` prints it for expected failures too. The text is printed literally
(no rich markup: "[[strategies]]" must stay "[[strategies]]").

Commands should simply raise: a module adding a command needs no error code of
its own. Layers that cannot import this module (the kill switch) keep raising
their own classes, which are named here.
"""

from __future__ import annotations

import sqlite3
import sys
import traceback
from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperGroup

from bastion.config import ConfigError
from bastion.data.errors import DataError
from bastion.dbschema import SchemaTooNew
from bastion.engine.errors import LiveError
from bastion.retention.errors import RetentionError
from bastion.state.folder import FolderInUse, NotABotFolder
from bastion.strategy.guard import StrategyViolation
from bastion.venues import errors as venue_errors

EXIT_EXPECTED = 2
EXIT_INTERRUPTED = 130
_DEBUG = {"on": False}


def set_debug(on: bool) -> None:
    _DEBUG["on"] = on


def one_line(text: str) -> str:
    """``text`` with its line breaks folded: the message is one line, always."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _venue(exc: BaseException) -> str:
    if isinstance(exc, venue_errors.AuthenticationError):
        return f"the exchange refused the API keys: {exc}"
    return f"the exchange: {type(exc).__name__}: {exc}"


def _os(exc: BaseException) -> str:
    assert isinstance(exc, OSError)
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


def _unicode(exc: BaseException) -> str:
    assert isinstance(exc, UnicodeDecodeError)
    return f"not UTF-8 text: byte {exc.object[exc.start]:#04x} at offset {exc.start}"


def _sqlite(exc: BaseException) -> str:
    return f"a database in the data folder cannot be used: {exc}"


def _plain(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _killswitch_errors() -> tuple[type[BaseException], ...]:
    from bastion.emulator.faults import FaultError
    from bastion.killswitch.sentinel import SentinelError

    return (FaultError, SentinelError)


# Ordered: the first class the exception is an instance of decides the text.
TABLE: tuple[tuple[type[BaseException], Callable[[BaseException], str]], ...] = (
    (ConfigError, _plain),
    (DataError, _plain),
    (LiveError, _plain),
    (FolderInUse, _plain),
    (NotABotFolder, _plain),
    (SchemaTooNew, _plain),
    (RetentionError, _plain),
    (StrategyViolation, lambda exc: f"the purity guard refused the strategy: {exc}"),
    (venue_errors.VenueError, _venue),
    (UnicodeDecodeError, _unicode),
    (OSError, _os),
    (sqlite3.DatabaseError, _sqlite),
)


def expected_message(exc: BaseException) -> str | None:
    """The one line for an expected failure, or None for a bug."""
    for cls, text in TABLE:
        if isinstance(exc, cls):
            return one_line(text(exc))
    if isinstance(exc, _killswitch_errors()):
        return one_line(_plain(exc))
    return None


def report(message: str) -> None:
    typer.echo(f"error: {one_line(message)}", err=True)


class BastionGroup(TyperGroup):
    """The ``bastion`` command group: expected failures become one line, exit 2."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # usage errors and exits are typer's to print
        except KeyboardInterrupt:
            raise typer.Exit(code=EXIT_INTERRUPTED) from None
        except Exception as exc:
            message = expected_message(exc)
            if message is None:
                raise
            if _DEBUG["on"]:
                traceback.print_exception(exc, file=sys.stderr)
            report(message)
            raise typer.Exit(code=EXIT_EXPECTED) from None

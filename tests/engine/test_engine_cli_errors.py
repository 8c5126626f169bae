"""The CLI's one table of expected failures: each becomes one literal line, a
bug does not (its traceback is the report), and a command another module
registers gets the same treatment without code of its own."""

from __future__ import annotations

import sqlite3

import pytest
import typer
from typer.testing import CliRunner

from bastion.cli_errors import BastionGroup, expected_message
from bastion.engine.errors import LiveError
from bastion.state.folder import FolderInUse
from bastion.strategy.guard import StrategyViolation
from bastion.venues.errors import AuthenticationError, RateLimited, VenueUnavailable


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (StrategyViolation("decide() read the clock"), "purity guard"),
        (VenueUnavailable("503 Service Unavailable"), "the exchange: VenueUnavailable"),
        (RateLimited("429", 2.0), "RateLimited"),
        (AuthenticationError("-2015"), "refused the API keys"),
        (FileNotFoundError(2, "No such file or directory", "bars.csv"), "bars.csv"),
        (PermissionError(13, "Permission denied", "/data"), "Permission denied"),
        (sqlite3.DatabaseError("file is not a database"), "file is not a database"),
        (LiveError("the config has no [[strategies]]\nsecond line"), "[[strategies]] second"),
        (FolderInUse("in use by pid 42"), "pid 42"),
    ],
)
def test_expected_failures_are_one_line(exc, text) -> None:
    message = expected_message(exc)
    assert message is not None and text in message and "\n" not in message


@pytest.mark.parametrize("exc", [KeyError("x"), AttributeError("y"), ZeroDivisionError()])
def test_a_bug_is_not_dressed_up_as_an_expected_failure(exc) -> None:
    assert expected_message(exc) is None


def test_a_command_registered_elsewhere_gets_the_same_one_line() -> None:
    app = typer.Typer(cls=BastionGroup)

    @app.command()
    def other() -> None:
        raise StrategyViolation("open() called [bold]inside[/] decide")

    @app.command()
    def spare() -> None:
        pass

    result = CliRunner().invoke(app, ["other"])

    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: the purity guard refused the strategy: open() called [bold]inside[/] decide"
    )

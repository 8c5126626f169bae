"""``bastion new-strategy``: start your own strategy from a template that passes
its own tests, so the first thing a new author sees is green."""

from __future__ import annotations

import keyword
import re
from importlib import resources
from pathlib import Path
from string import Template
from typing import Annotated

import typer

from bastion.cli_output import console

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _names(raw: str) -> tuple[str, str]:
    """(snake_case module name, CamelCase class name) from what the user typed."""
    text = raw.strip().replace("-", "_").replace(" ", "_")
    if not _NAME.match(text):
        raise ValueError(
            f"strategy name {raw!r}: use letters, digits, '_' or '-', starting with a letter"
        )
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", text).lower()
    if keyword.iskeyword(snake):
        raise ValueError(f"strategy name {raw!r} is a Python keyword")
    camel = "".join(part[:1].upper() + part[1:] for part in snake.split("_") if part)
    return snake, camel


def render(raw_name: str) -> dict[str, str]:
    """File name -> contents of the strategy and its test."""
    snake, camel = _names(raw_name)
    values = {
        "name": snake,
        "cls": camel,
        "file": f"{snake}.py",
        "test_file": f"test_{snake}.py",
        "title": camel,
    }
    templates = resources.files("bastion") / "templates"
    out = {}
    for template, target in (
        ("strategy.py.txt", values["file"]),
        ("test_strategy.py.txt", values["test_file"]),
    ):
        text = (templates / template).read_text(encoding="utf-8")
        out[target] = Template(text).substitute(values)
    return out


def new_strategy(
    name: Annotated[str, typer.Argument(help="Strategy name, e.g. rsi_dip (snake_case).")],
    folder: Annotated[
        Path, typer.Option("--dir", help="Folder to write the strategy and its test into.")
    ] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite files that exist.")] = False,
) -> None:
    """Write a commented strategy template and a pytest file that passes out of the box."""
    err = typer.echo
    try:
        files = render(name)
    except ValueError as exc:
        err(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    existing = [folder / f for f in files if (folder / f).exists()]
    if existing and not force:
        err(f"error: {existing[0]} exists (use --force to overwrite)", err=True)
        raise typer.Exit(code=2)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, text in files.items():
            (folder / file_name).write_text(text, encoding="utf-8")
    except OSError as exc:
        err(f"error: cannot write to {folder}: {exc.strerror}", err=True)
        raise typer.Exit(code=2) from None
    snake, camel = _names(name)
    strategy_file = folder / f"{snake}.py"
    console.print(f"wrote {strategy_file} and {folder / f'test_{snake}.py'}")
    console.print(f"  test it:     pytest {folder / f'test_{snake}.py'}")
    console.print(
        f"  backtest it: bastion backtest --strategy {strategy_file}:{camel} "
        "--data BARS.parquet --symbol BTC/USDT"
    )


def register(app: typer.Typer) -> None:
    app.command("new-strategy")(new_strategy)

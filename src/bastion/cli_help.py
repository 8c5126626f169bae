"""How ``--help`` reads: defaults shown, and no ``<str>``/``<bool>`` type noise.

Typer prints every option's Python type (``<str>``, ``<list[str]>``) in a
column of its own; for a flag that says nothing, and for a value the help text
already names it. ``TidyGroup`` gives each option a plain metavar instead
(none for a flag, ``TEXT``/``INT``/``PATH`` for a value) when the command is
looked up, so every command, including those registered by other modules,
reads the same.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperGroup, TyperOption

_PLAIN = {"str": "TEXT", "int": "INT", "float": "NUMBER", "path": "PATH"}


def _plain(param: TyperOption, ctx: Any) -> str:
    try:
        raw = str(param.display_type(ctx)).strip("<>")
    except Exception:  # a type typer cannot describe: a generic label
        return "VALUE"
    inner = raw.removeprefix("list[").removesuffix("]")
    return _PLAIN.get(inner, inner.upper())


def _no_type(ctx: Any) -> None:
    return None


def tidy(command: Any, ctx: Any) -> Any:
    """Plain metavars on ``command``'s parameters and its --help (idempotent)."""
    if getattr(command, "_bastion_tidy", False):
        return command
    for param in getattr(command, "params", ()):
        if isinstance(param, TyperArgument):
            # The name and the help text say what an argument is.
            param.display_type_rich = _no_type  # type: ignore[method-assign]
        elif isinstance(param, TyperOption) and param.metavar is None:
            param.metavar = "" if param.is_flag or param.count else _plain(param, ctx)
    original = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = original(ctx)
        if option is not None and option.metavar is None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option
    command._bastion_tidy = True
    return command


class TidyGroup(TyperGroup):
    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None and hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                tidy(command.get_command(ctx, name), ctx)  # type: ignore[attr-defined]
        return tidy(command, ctx) if command is not None else None

    def format_help(self, ctx: Any, formatter: Any) -> None:
        tidy(self, ctx)
        super().format_help(ctx, formatter)

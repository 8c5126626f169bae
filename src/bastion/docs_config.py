"""Write docs/config.md from the pydantic models in ``bastion.config``:

    python -m bastion.docs_config > docs/config.md

Every table of bot.toml, every key with its type, default and limits, and the
class docstring that says what the table is for. Generated, never edited by
hand, so it cannot drift from what ``load_config`` accepts; a test compares
the file with this output. Sections added to ``BotConfig`` later appear here
by themselves.
"""

from __future__ import annotations

import inspect
import sys
import types
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from bastion.config import BotConfig

HEADER = """# Configuration reference (bot.toml)

Generated from the models in `src/bastion/config.py` by
`python -m bastion.docs_config > docs/config.md`; do not edit by hand (a test
compares this file with the generator's output).

A bot is one TOML file. Every table refuses unknown keys, and a bad value is
reported with its key, the value and what was expected. Money and fractions
are best written as strings (`"0.25"`) so they are read exactly. Secrets never
go in this file: keys come from the environment (see `[exchange]` and
`[killswitch]`). Paths of strategy files are relative to the config file.
"""


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f'`"{a}"`' if isinstance(a, str) else f"`{a}`" for a in args)
    if origin in (Union, types.UnionType):
        parts = [a for a in args if a is not type(None)]
        inner = " or ".join(_type_name(a) for a in parts)
        return f"{inner} (optional)" if len(parts) < len(args) else inner
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"table of {_type_name(args[0])} → {_type_name(args[1])}"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return "table"
        return {"str": "string", "int": "integer", "float": "number", "bool": "boolean",
                "Decimal": "decimal"}.get(annotation.__name__, annotation.__name__)  # fmt: skip
    return str(annotation).replace("typing.", "")


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        if isinstance(value, BaseModel):
            return "(table)"
        return f"`{value!r}`" if value else "empty"
    if field.default is PydanticUndefined:
        return "**required**"
    if field.default is None:
        return "unset"
    value = field.default
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f'`"{value}"`' if isinstance(value, str) else f"`{value}`"


def _limits(field: FieldInfo) -> str:
    out = []
    for meta in field.metadata:
        for attr, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            bound = getattr(meta, attr, None)
            if bound is not None:
                out.append(f"{sign} {bound}")
        length = getattr(meta, "min_length", None)
        if length:
            out.append(f"at least {length} item(s)")
    return ", ".join(out)


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """The nested model a field holds and how its table is written."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, "table"
    origin, args = get_origin(annotation), get_args(annotation)
    models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
    if len(models) == 1 and type(None) in args:  # an optional table
        return models[0], "table"
    if origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0], "array"
    if (
        origin is dict
        and len(args) == 2
        and isinstance(args[1], type)
        and issubclass(args[1], BaseModel)
    ):
        return args[1], "map"
    return None, ""


def _doc(model: type[BaseModel]) -> str:
    doc = inspect.getdoc(model) or ""
    if doc.startswith("Usage docs:") or "A base class for creating Pydantic models" in doc:
        return ""
    return doc


def _section(model: type[BaseModel], title: str, out: list[str]) -> None:
    out.append(f"\n## `{title}`\n")
    doc = _doc(model)
    if doc:
        out.append(doc + "\n")
    rows = []
    nested: list[tuple[type[BaseModel], str]] = []
    for name, field in model.model_fields.items():
        sub, kind = _model_of(field.annotation)
        if sub is not None:
            key = name if title == "top level" else f"{title.strip('[]')}.{name}"
            nested.append(
                (sub, {"table": f"[{key}]", "array": f"[[{key}]]", "map": f'[{key}."KEY"]'}[kind])
            )
            if kind != "table":
                continue
        desc = field.description or ""
        rows.append(
            f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | "
            f"{_limits(field)} | {desc} |"
        )
    if rows:
        out.append("| key | type | default | limits | notes |")
        out.append("|---|---|---|---|---|")
        out.extend(rows)
    for sub, sub_title in nested:
        _section(sub, sub_title, out)


def render() -> str:
    out = [HEADER]
    _section(BotConfig, "top level", out)
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()

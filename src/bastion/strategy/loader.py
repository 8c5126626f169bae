"""Find a strategy class by name: a built-in, ``path/to/file.py:Class`` or
``package.module:Class``.

A strategy is the user's code, so it is allowed to live anywhere; what it may
not do is fail obscurely. Every way of naming the wrong thing (no such file, a
file that does not import, no such class, a class that is not a ``Strategy``)
raises ``ValueError`` with one line that names what was wrong.

A file is imported under a module name derived from its resolved path, and is
registered in ``sys.modules`` so that ``inspect`` (and so the strategy's
version hash) and ``pickle`` (the purity guard's snapshots) can find it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from bastion.strategy.base import Strategy

StrategyClass = type[Strategy[Any, Any]]


def is_reference(name: str) -> bool:
    """True when ``name`` points at user code rather than a built-in."""
    return ":" in name


def load_strategy_class(
    name: str, builtins: dict[str, StrategyClass], base_dir: Path | None = None
) -> StrategyClass:
    """The class ``name`` refers to; file paths are relative to ``base_dir``."""
    if not is_reference(name):
        cls = builtins.get(name)
        if cls is None:
            raise ValueError(
                f"unknown strategy {name!r} (built-in: {', '.join(sorted(builtins))}; "
                "or name your own as path/to/file.py:ClassName or package.module:ClassName)"
            )
        return cls
    target, _, class_name = name.rpartition(":")
    if not target or not class_name.isidentifier():
        raise ValueError(
            f"strategy {name!r}: expected path/to/file.py:ClassName or package.module:ClassName"
        )
    module = _import_file(target, base_dir) if _looks_like_path(target) else _import(target)
    cls = getattr(module, class_name, None)
    if cls is None:
        found = sorted(
            n
            for n, v in vars(module).items()
            if _is_strategy(v) and v.__module__ == module.__name__
        )
        hint = f" (strategies there: {', '.join(found)})" if found else " (it defines no Strategy)"
        raise ValueError(f"strategy {name!r}: {target} has no class {class_name!r}{hint}")
    if not _is_strategy(cls):
        raise ValueError(
            f"strategy {name!r}: {class_name} is not a subclass of bastion.strategy.Strategy"
        )
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise ValueError(f"strategy {name!r}: {class_name} does not implement {missing}")
    for attr in ("name", "Params"):
        if not hasattr(cls, attr):
            raise ValueError(f"strategy {name!r}: {class_name} has no class attribute {attr!r}")
    return cls  # type: ignore[no-any-return]


def _is_strategy(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, Strategy) and value is not Strategy


def _looks_like_path(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def _import(module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ValueError(
            f"strategy module {module_name!r} not found ({exc.msg}); "
            "is its folder on PYTHONPATH, or did you mean a file path ending in .py?"
        ) from None
    except Exception as exc:
        raise ValueError(
            f"strategy module {module_name!r} failed to import: {type(exc).__name__}: {exc}"
        ) from None


def _import_file(target: str, base_dir: Path | None) -> ModuleType:
    path = Path(target).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    path = path.resolve()
    if not path.is_file():
        raise ValueError(f"strategy file {path} not found")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    module_name = f"bastion_user.{_identifier(path.stem)}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"strategy file {path}: not an importable Python file")
    module = importlib.util.module_from_spec(spec)
    _ensure_parent_package()
    previous = sys.modules.get(module_name)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        if previous is None:
            sys.modules.pop(module_name, None)
        else:
            sys.modules[module_name] = previous
        where = _line_of(exc, path)
        raise ValueError(
            f"strategy file {path}{where} failed to import: {type(exc).__name__}: {exc}"
        ) from None
    return module


def _ensure_parent_package() -> None:
    if "bastion_user" not in sys.modules:
        pkg = ModuleType("bastion_user", "Strategies loaded from files by bastion.")
        pkg.__path__ = []
        sys.modules["bastion_user"] = pkg


def _identifier(stem: str) -> str:
    text = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in stem)
    return text if text and not text[0].isdigit() else f"m_{text}"


def _line_of(exc: BaseException, path: Path) -> str:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f" line {exc.lineno}"
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename) == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" line {line}" if line else ""

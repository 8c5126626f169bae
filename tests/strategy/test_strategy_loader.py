"""Strategies from anywhere: ``path/to/file.py:Class`` and ``module:Class``,
each wrong name answered with one line naming what was wrong."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from user_strategy import BREAKOUT

from bastion.config import load_config
from bastion.engine.live import build_strategies
from bastion.strategy import StrategyViolation, build_strategy
from bastion.testing import assert_pure, synthetic_bars

SYM = ["BTC/USDT"]


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "elsewhere" / "breakout.py"
    path.parent.mkdir()
    path.write_text(BREAKOUT, encoding="utf-8")
    return path


def test_a_file_path_loads(user_file: Path) -> None:
    strat = build_strategy(f"{user_file}:Breakout", SYM, {"lookback": "5"})

    assert type(strat).__name__ == "Breakout"
    assert strat.params.lookback == 5
    assert strat.ref.id == "breakout"


def test_a_relative_path_is_taken_from_base_dir(user_file: Path) -> None:
    strat = build_strategy("breakout.py:Breakout", SYM, base_dir=user_file.parent)

    assert strat.ref.id == "breakout"


def test_a_module_path_loads(user_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = user_file.parent / "mystrats"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "trend.py").write_text(BREAKOUT)
    monkeypatch.syspath_prepend(str(user_file.parent))

    strat = build_strategy("mystrats.trend:Breakout", SYM)

    assert type(strat).__module__ == "mystrats.trend"
    sys.modules.pop("mystrats.trend", None)
    sys.modules.pop("mystrats", None)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("nosuch", "unknown strategy 'nosuch' (built-in: bollinger, quoter, sma_cross; or name"),
        ("{dir}/missing.py:Breakout", "strategy file {dir}/missing.py not found"),
        ("{file}:Nope", "has no class 'Nope' (strategies there: Breakout)"),
        ("{file}:Decimal", "Decimal is not a subclass of bastion.strategy.Strategy"),
        ("{file}:", "expected path/to/file.py:ClassName or package.module:ClassName"),
        ("no_such_pkg.mod:Thing", "strategy module 'no_such_pkg.mod' not found"),
    ],
)
def test_wrong_names_get_one_line(user_file: Path, name: str, expected: str) -> None:
    spec = name.format(dir=user_file.parent, file=user_file)
    with pytest.raises(ValueError) as err:
        build_strategy(spec, SYM)
    message = str(err.value)
    assert expected.format(dir=user_file.parent) in message
    assert "\n" not in message


def test_a_file_that_fails_to_import_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\nraise RuntimeError('boom')\n")

    with pytest.raises(ValueError, match=r"bad.py line 2 failed to import: RuntimeError: boom"):
        build_strategy(f"{bad}:X", SYM)


def test_a_syntax_error_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "syntax.py"
    bad.write_text("def f(:\n")

    with pytest.raises(ValueError, match=r"syntax.py line 1 failed to import: SyntaxError"):
        build_strategy(f"{bad}:X", SYM)


def test_an_abstract_class_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "half.py"
    path.write_text(
        "from bastion.strategy import Strategy\n"
        "class Half(Strategy):\n    name = 'half'\n    Params = dict\n"
        "    def initial_memory(self):\n        return {}\n"
    )
    with pytest.raises(ValueError, match="Half does not implement decide"):
        build_strategy(f"{path}:Half", SYM)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"lookbak": "5"},
            "strategy .*unknown parameter 'lookbak' .expected one of: lookback, qty",
        ),
        ({"lookback": "five"}, "parameter lookback='five': expected int"),
    ],
)
def test_bad_parameters_get_one_line(user_file: Path, params: dict, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        build_strategy(f"{user_file}:Breakout", SYM, params)


def test_editing_the_file_changes_the_version(user_file: Path) -> None:
    before = build_strategy(f"{user_file}:Breakout", SYM).ref.version
    again = build_strategy(f"{user_file}:Breakout", SYM).ref.version
    user_file.write_text(BREAKOUT.replace("lookback: int = 20", "lookback: int = 20  # edited"))

    after = build_strategy(f"{user_file}:Breakout", SYM).ref.version

    assert before == again
    assert after != before


def test_a_config_names_a_file_relative_to_itself(
    user_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = user_file.parent / "bot.toml"
    cfg.write_text(
        '[[strategies]]\nname = "breakout.py:Breakout"\nsymbols = ["BTC/USDT"]\n'
        "params = { lookback = 7 }\n"
    )
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    (strat,) = build_strategies(load_config(cfg))

    assert strat.params.lookback == 7


def test_the_user_strategy_passes_the_guard(user_file: Path) -> None:
    decisions = assert_pure(
        lambda: build_strategy(f"{user_file}:Breakout", SYM, {"lookback": "10"}),
        synthetic_bars(1_500, seed=4, symbol="BTC/USDT"),
    )
    assert decisions


def test_a_user_strategy_that_reads_the_clock_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "clocky.py"
    path.write_text(
        BREAKOUT.replace("import dataclass", "import dataclass\nimport time").replace(
            "        intents = []", "        time.time()\n        intents = []"
        )
    )
    with pytest.raises(StrategyViolation, match=r"read the clock .*time\.time"):
        assert_pure(
            lambda: build_strategy(f"{path}:Breakout", SYM),
            synthetic_bars(100, seed=4, symbol="BTC/USDT"),
        )

"""Shipped example configs stay valid."""

from pathlib import Path

import pytest

from bastion.config import load_config
from bastion.engine.live import build_strategies

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_config_loads_and_builds(path):
    cfg = load_config(path)
    assert build_strategies(cfg)

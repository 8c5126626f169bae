"""docs/config.md is the generator's output for the models as they are now:
a config section added without regenerating the reference fails here."""

from __future__ import annotations

from pathlib import Path

from bastion.config import BotConfig
from bastion.docs_config import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def test_the_reference_is_in_step_with_the_models() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/config.md is stale: run `python -m bastion.docs_config > docs/config.md`"
    )


def test_every_section_and_key_is_documented() -> None:
    text = render()
    for name in BotConfig.model_fields:
        assert f"`{name}`" in text or f"[{name}]" in text or f"[[{name}]]" in text
    for key in ("daily_loss", "timezone", "size_scale", "token_env", "max_age_s"):
        assert f"| `{key}` |" in text

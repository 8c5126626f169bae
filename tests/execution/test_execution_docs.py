"""The lifecycle document is generated from the transition table, never edited by hand."""

from pathlib import Path

from bastion.execution.lifecycle import render_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "order-lifecycle.md"


def test_order_lifecycle_doc_matches_the_table():
    assert DOC.read_text() == render_markdown(), (
        "run: python -m bastion.execution.lifecycle > docs/order-lifecycle.md"
    )

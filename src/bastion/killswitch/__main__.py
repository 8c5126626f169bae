"""``python -m bastion.killswitch sentinel|kill``: the kill switch alone."""

from __future__ import annotations

import typer

from bastion.killswitch.cli import register

app = typer.Typer(name="bastion-killswitch", no_args_is_help=True, add_completion=False)
register(app)

if __name__ == "__main__":
    app()

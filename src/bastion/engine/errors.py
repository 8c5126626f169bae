"""Why a paper or live bot cannot start or keep running: the engine's expected
failures, in a module light enough for the CLI to name without importing ccxt."""

from __future__ import annotations


class LiveError(RuntimeError):
    """The bot cannot start: missing or refused keys, no market data, unknown
    symbol, the exchange unreachable past the start-up deadline, a data folder
    another bot holds."""


class Interrupted(LiveError):
    """SIGTERM or Ctrl-C arrived before the bot had started: nothing to shut down."""

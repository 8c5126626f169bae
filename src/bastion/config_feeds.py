"""``[feeds]``: where each symbol's market data comes from, in order of preference.

Without it a bot has one WebSocket trade feed per exchange, as before. With
``sources``, every symbol gets those feeds (``symbols`` overrides per symbol):
typically the exchange's WebSocket first and REST polling of the same
exchange second, or a second ccxt exchange as a reference price. Every feed
runs all the time (a warm standby, so a switch loses no bar); the bot trades
on the most preferred feed that is not stalled and comes back to a preferred
one after it has been healthy for ``failback_s``::

    [feeds]
    failback_s = 60
    [[feeds.sources]]
    name = "ws"
    kind = "ws"
    stall_s = 15
    [[feeds.sources]]
    name = "rest"
    kind = "rest"
    poll_s = 1.0
    stall_s = 10

A REST feed polls recent trades (``limit`` per poll): on a symbol that trades
more than ``limit`` times per ``poll_s`` it misses trades, and it costs
request weight all day; size ``poll_s`` for the symbol.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FeedSourceConfig(_Strict):
    name: str = Field(min_length=1)
    kind: Literal["ws", "rest"]
    exchange: str | None = None  # another ccxt exchange id; default: [exchange].id
    base_url: str | None = None  # default: [exchange]'s when it is the same exchange
    ws_url: str | None = None
    stall_s: float = Field(30.0, gt=0)
    poll_s: float = Field(1.0, gt=0)
    limit: int = Field(1000, ge=1, le=1000)

    @field_validator("base_url", "ws_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and "://" not in v:
            raise ValueError(f"{v!r} is not a URL (expected scheme://host:port)")
        return v


def _unique(sources: list[FeedSourceConfig]) -> list[FeedSourceConfig]:
    names = [s.name for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"feed names must be unique, {dupes} repeated")
    return sources


class FeedsConfig(_Strict):
    failback_s: float = Field(60.0, ge=0)
    # An L2 book per symbol (Binance's depth stream plus REST snapshots) in the
    # view: best bid/ask and the depth within ``book_depth_bps`` of the mid.
    book: bool = False
    book_depth_bps: float = Field(10.0, gt=0, le=10_000)
    book_stale_s: float = Field(5.0, gt=0)
    sources: list[FeedSourceConfig] = Field(default_factory=list)
    symbols: dict[str, list[FeedSourceConfig]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names(self) -> FeedsConfig:
        _unique(self.sources)
        for sym, sources in self.symbols.items():
            if "/" not in sym:
                raise ValueError(f"symbol {sym!r} is not of the form BASE/QUOTE")
            if not sources:
                raise ValueError(f"feeds.symbols.{sym!r}: at least one feed")
            _unique(sources)
        return self

    @property
    def enabled(self) -> bool:
        """Whether trade feeds are configured here (the book is separate)."""
        return bool(self.sources or self.symbols)

    def for_symbol(self, symbol: str) -> list[FeedSourceConfig]:
        return self.symbols.get(symbol) or self.sources

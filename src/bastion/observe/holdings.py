"""The account and the bot's share of it, per traded symbol, from the journal.

A real account holds more than the bot trades. The reconciler records, per
asset, the *baseline* (held, not the bot's) and the *adopted* quantity (the
bot's, though no fill of its own explains it), and the bot's share is what
the account holds minus the baseline. An operator looking at positions needs
the three side by side: what the exchange shows, what of it the bot must
never sell, and what the bot trades with. All three come from the journal:

- ``cycle_stats``: ``holdings`` (the whole account) and ``account`` (the
  bot's share) per symbol, as the cycle last read them;
- ``baseline_recorded`` (first start on the folder), ``reconcile_delta`` (a
  change nothing the bot did explains, absorbed per the policy) and
  ``baseline_changed`` (``bastion account baseline``): the baseline and the
  adopted quantity per asset, as the baseline store holds them.

Sans-I/O: ``apply(event)`` folds, ``rows()`` gives the table.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

ZERO = Decimal(0)


def base_asset(symbol: str) -> str:
    """``BTC/USDT`` -> ``BTC`` (and ``BTC/USDT:USDT`` -> ``BTC``)."""
    return symbol.split("/", 1)[0].upper()


class Holdings:
    def __init__(self) -> None:
        self.holdings: dict[str, Decimal] | None = None  # None: no sample carried them yet
        self.share: dict[str, Decimal] = {}
        self.baseline: dict[str, Decimal] = {}  # per asset
        self.adopted: dict[str, Decimal] = {}
        self.recorded = False

    def apply(self, e: dict[str, Any]) -> None:
        kind = e.get("kind")
        if kind == "cycle_stats":
            if e.get("account") is not None:
                self.share = {s: Decimal(q) for s, q in e["account"].items()}
            if e.get("holdings") is not None:
                self.holdings = {s: Decimal(q) for s, q in e["holdings"].items()}
        elif kind == "baseline_recorded":
            self.recorded = True
            self.baseline = {a: Decimal(q) for a, q in (e.get("baseline") or {}).items()}
            self.adopted = {a: Decimal(q) for a, q in (e.get("adopted") or {}).items()}
        elif kind == "reconcile_delta" and e.get("asset") and e.get("baseline") is not None:
            asset = str(e["asset"])
            self.baseline[asset] = Decimal(e["baseline"])
            self.adopted[asset] = Decimal(e.get("adopted") or 0)
        elif kind == "baseline_changed" and e.get("asset"):
            # as the command stores it: what leaves the baseline becomes the bot's
            asset, new = str(e["asset"]), Decimal(e["baseline"])
            old = Decimal(e.get("previous") or self.baseline.get(asset, ZERO))
            self.adopted[asset] = self.adopted.get(asset, ZERO) + old - new
            self.baseline[asset] = new

    def rows(self, symbols: set[str] | None = None) -> list[dict[str, str | None]]:
        """Per symbol: the account's holding, the baseline under it, what of the
        share was adopted, and the bot's share (as the cycle reconciled it)."""
        held = self.holdings or {}
        syms = set(held) | set(self.share) | (symbols or set())
        known = self.recorded or bool(self.baseline)
        out: list[dict[str, str | None]] = []
        for sym in sorted(syms):
            asset = base_asset(sym)
            share = self.share.get(sym, ZERO)
            account = held.get(sym, ZERO) if self.holdings is not None else None
            out.append(
                {
                    "symbol": sym,
                    "asset": asset,
                    "account": None if account is None else str(account),
                    "baseline": str(self.baseline.get(asset, ZERO)) if known else None,
                    "adopted": str(self.adopted.get(asset, ZERO)) if known else None,
                    "bot": str(share),
                }
            )
        return out

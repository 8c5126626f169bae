"""Two-sided quoting with inventory skew.

Rests a post-only bid and ask around the mid. As inventory builds up, both
quotes shift against it (long: quote lower, to sell more and buy less), and at
``max_inventory`` the side that would add stops quoting. Quotes are only moved
when the mid has drifted ``requote_bps`` from where they were set, so the bot
does not cancel and replace on every tick; the anchor lives in ``memory``.
With an L2 book in the view the quotes centre on the book's mid, and a book
that cannot be trusted (out of sequence, crossed, stale) stops the quoting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bastion.model import AccountSnapshot, Intent, QuoteLevel, TargetQuotes
from bastion.model.money import to_decimal
from bastion.model.view import MarketView
from bastion.strategy.base import Strategy

Memory = Mapping[str, tuple[float, Decimal]]  # symbol -> (anchor mid, inventory at anchor)
_BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True, kw_only=True)
class QuoterParams:
    spread_bps: Decimal = Decimal(20)
    qty: Decimal = Decimal("0.01")
    max_inventory: Decimal = Decimal("0.05")
    skew_bps: Decimal = Decimal(10)
    requote_bps: float = 5.0

    def __post_init__(self) -> None:
        if self.spread_bps <= 0 or self.qty <= 0 or self.max_inventory <= 0:
            raise ValueError("spread_bps, qty and max_inventory must be positive")


class InventoryQuoter(Strategy[QuoterParams, Memory]):
    name = "quoter"
    Params = QuoterParams

    def initial_memory(self) -> Memory:
        return {}

    def decide(
        self, view: MarketView, account: AccountSnapshot, memory: Memory
    ) -> tuple[Sequence[Intent], Memory]:
        p = self.params
        intents: list[Intent] = []
        new_memory = dict(memory)
        for sym in self.symbols:
            sv = view[sym]
            if not sv.tradable:
                continue
            book = sv.book
            if book is not None and not book.usable:
                continue  # a crossed, gapped or stale book: quote nothing rather than guess
            mid = book.mid if book is not None and book.mid is not None else sv.price
            inv = account.position(sym)
            anchor = memory.get(sym)
            if (
                anchor is not None
                and anchor[1] == inv
                and abs(mid - anchor[0]) / anchor[0] * 1e4 < p.requote_bps
            ):
                continue  # quotes still good
            new_memory[sym] = (mid, inv)
            m = to_decimal(mid)
            skew = -(inv / p.max_inventory) * p.skew_bps
            half = p.spread_bps / 2
            bid = m * (1 + (-half + skew) / _BPS)
            ask = m * (1 + (half + skew) / _BPS)
            bids = (QuoteLevel(bid, p.qty),) if inv + p.qty <= p.max_inventory else ()
            ask_qty = min(p.qty, inv)
            asks = (QuoteLevel(ask, ask_qty),) if ask_qty > 0 else ()
            intents.append(TargetQuotes(symbol=sym, bids=bids, asks=asks))
        return intents, new_memory

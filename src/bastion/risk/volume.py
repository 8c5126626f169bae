"""Size relative to the market: an order at most a share of what the symbol
trades in a bar (mean over a trailing window) and of the visible book depth
on the side it would take, when the view carries depth (an L2 book's depth
within N bps of the mid, or the quote's top-level size).

The mean bar volume comes from the view's ``SMA(window, "volume")`` when the
data gate maintains it (``RiskGate.indicators``), else from the gate's own
tape. A larger order is resized down (RESIZED_VOLUME); when the share left is
below the exchange minimum the order is refused (VOLUME_LIMIT). Orders that
only cut exposure are not limited: a thin market must not trap a position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from bastion.model import BookTop, OrderRequest, Side
from bastion.model.indicators import SMA
from bastion.model.money import to_decimal
from bastion.model.view import SymbolView
from bastion.risk.context import RiskContext
from bastion.risk.decisions import Decision, RiskReason, reject
from bastion.risk.limits import RiskLimits
from bastion.risk.rules import shrink


@dataclass(frozen=True, slots=True)
class VolumeRule:
    limits: RiskLimits
    name: str = "volume"
    spec: SMA = field(init=False, repr=False, compare=False)
    _shares: dict[str, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "spec", SMA(self.limits.volume.window, "volume"))
        object.__setattr__(self, "_shares", {})

    def _share_float(self, symbol: str, share: Decimal) -> float:
        """``float(share)``, converted once per symbol (limits are frozen)."""
        share_f = self._shares.get(symbol)
        if share_f is None:
            share_f = self._shares[symbol] = float(share)
        return share_f

    def _mean_volume(self, req: OrderRequest, ctx: RiskContext) -> float | None:
        if ctx.tape is not None:  # reads the view's indicator when the data gate keeps it
            return ctx.tape.mean_volume(req.symbol)
        sv = ctx.view.get(req.symbol)
        try:
            return sv.value(self.spec) if sv is not None else None
        except KeyError:
            return None

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        facts = ctx.facts(req)
        if not facts.increases:
            return None
        share = self.limits.for_symbol(req.symbol).max_volume_share
        cap: Decimal | None = None
        basis = ""
        mean = self._mean_volume(req, ctx)
        if mean is not None:
            if facts.qty < self._share_float(req.symbol, share) * mean * 0.999:
                mean_cap = None  # clearly inside: skip the Decimal arithmetic
            else:
                mean_cap = share * to_decimal(mean)
            if mean_cap is not None:
                cap, basis = mean_cap, "bar volume"
        depth = self._depth(req, ctx)
        if depth is not None:
            book_cap = self.limits.volume.max_book_share * to_decimal(depth)
            if cap is None or book_cap < cap:
                cap, basis = book_cap, "book depth"
        if cap is None or req.qty <= cap:
            return None
        details = {
            "limit": str(cap),
            "observed": str(req.qty),
            "basis": basis,
            "mean_volume": mean,
            "depth": depth,
            "share": str(share),
        }
        if cap <= 0:
            return reject(req, RiskReason.VOLUME_LIMIT, self.name, why="no volume", **details)
        return shrink(
            req,
            ctx,
            cap,
            RiskReason.RESIZED_VOLUME,
            self.name,
            reject_reason=RiskReason.VOLUME_LIMIT,
            **details,
        )

    @staticmethod
    def _depth(req: OrderRequest, ctx: RiskContext) -> float | None:
        """Visible quantity on the side the order takes, when the view has a book:
        from an L2 book, what rests within its ``depth_bps`` of the mid (an
        untrusted book counts as no depth at all, so only reductions pass)."""
        sv = ctx.view.get(req.symbol)
        if sv is None:
            return None
        if type(sv) is SymbolView and sv.book is None:
            return None  # no book, and its slots hold no ``ask_qty`` / ``bid_qty``
        book: BookTop | None = getattr(sv, "book", None)
        if book is not None:
            if not book.usable:
                return 0.0
            return book.ask_depth if req.side is Side.BUY else book.bid_depth
        attr = "ask_qty" if req.side is Side.BUY else "bid_qty"
        depth = getattr(sv, attr, None)
        return float(depth) if isinstance(depth, int | float) else None

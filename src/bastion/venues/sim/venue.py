"""The simulated venue: a spot exchange in a box.

One matching engine for market and limit orders (GTC, IOC, post-only) driven
by bars, quotes or trades; maker and taker fees in the quote asset; a slippage
model; order latency; spot inventory rules (no selling what is not held unless
``margin``); client-id dedupe among open orders as real exchanges do. It reads
no clock: time advances with the market data it is shown (and ``set_time``).

Fill rules, chosen to be honest rather than flattering:
- an order arrives ``latency_ms`` after it is sent; over bars, an arrival
  inside a bar waits for the next bar's open (the path inside a bar is unknown);
- on arrival a market order, or a marketable limit order, takes liquidity at
  the reference price (the bar's open, the best quote, the last trade), slipped
  by the slippage model, as taker; a post-only order that would take is rejected;
- a resting limit order fills at its own price (never better) when the market
  trades at it (``limit_fill="touch"``) or beyond it (``"through"``), as maker;
- a bar lets at most ``slippage.max_qty(volume)`` of each order fill; the rest
  waits for later bars (partial fills over several bars);
- stop-limits and OCO lists trigger and fill by the rules in ``stops``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

from bastion.model import (
    AccountSnapshot,
    Balance,
    Fill,
    Instrument,
    Liquidity,
    OrderReport,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)
from bastion.model.money import ZERO, to_decimal
from bastion.venues.errors import (
    BadSymbol,
    DuplicateClientId,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
)
from bastion.venues.port import FillReceived, OrderUpdated, VenueEvent
from bastion.venues.sim import stops
from bastion.venues.sim.book import SimOrder
from bastion.venues.sim.slippage import NoSlippage, SlippageModel


class SimVenue:
    """In-process venue implementing ``bastion.venues.Venue``."""

    def __init__(
        self,
        instruments: Iterable[Instrument],
        balances: Mapping[str, Decimal],
        *,
        slippage: SlippageModel | None = None,
        latency_ms: int = 0,
        latency_jitter_ms: int = 0,
        margin: bool = False,
        limit_fill: Literal["touch", "through"] = "touch",
        seed: int = 0,
        history: int | None = None,
    ) -> None:
        """``history``: how many of the newest fills and terminal orders the venue
        remembers (``None``: all, as an exchange's history; a backtest bounds it,
        the run's fills being on its own tape, so memory does not grow with the run)."""
        self._instruments = {i.symbol: i for i in instruments}
        self._balances: dict[str, Decimal] = {a: to_decimal(v) for a, v in balances.items()}
        self._locked: dict[str, Decimal] = {}
        self._cost: dict[str, Decimal] = {}  # symbol -> cost basis of the open position
        self.slippage: SlippageModel = slippage or NoSlippage()
        self.latency_ms = latency_ms
        self.latency_jitter_ms = latency_jitter_ms
        self.margin = margin
        self._through = limit_fill == "through"
        self._rng = random.Random(seed)
        self.now = 0
        self.version = 0  # bumped on every account change; lets readers skip re-snapshots
        self._seq = 0
        self._trade_seq = 0
        self._working: dict[str, list[SimOrder]] = {}
        self._by_client: dict[str, SimOrder] = {}  # latest order per client id
        self._fills: list[Fill] = []
        self._history = history
        self._ended: dict[str, None] = {}  # terminal orders remembered, oldest first
        self._events: list[VenueEvent] = []
        self._last: dict[str, float] = {}
        self._quotes: dict[str, tuple[float, float, float, float]] = {}
        self._budget: dict[str, tuple[int, Decimal]] = {}  # symbol -> (event ts, qty filled)
        self.orders_received = 0  # every submit call that reached the matching engine

    # ------------------------------------------------------------------ clock
    def set_time(self, now: int) -> None:
        self.now = now

    # ------------------------------------------------------------ market data
    def on_bar(
        self, symbol: str, ts: int, o: float, h: float, low: float, c: float, v: float
    ) -> None:
        """A bar opened at ``ts`` and completed; match working orders against it."""
        orders = self._working.get(symbol)
        if orders:
            stops.trigger_bar(self, orders, ts, o, h, low)
            self._match_bar(symbol, orders, ts, o, h, low, c, v)
        self._last[symbol] = c

    def on_quote(
        self, symbol: str, ts: int, bid: float, ask: float, bid_qty: float, ask_qty: float
    ) -> None:
        self._quotes[symbol] = (bid, ask, bid_qty, ask_qty)
        self.now = max(self.now, ts)
        orders = self._working.get(symbol)
        if orders:
            self._match_quote(symbol, orders, ts)

    def on_trade(self, symbol: str, ts: int, price: float, qty: float) -> None:
        self._last[symbol] = price
        self.now = max(self.now, ts)
        orders = self._working.get(symbol)
        if orders:
            self._match_trade(symbol, orders, ts, price, qty)

    def last_price(self, symbol: str) -> float | None:
        return self._last.get(symbol)

    # -------------------------------------------------------------- the port
    def instruments(self) -> Mapping[str, Instrument]:
        return MappingProxyType(self._instruments)

    def submit(self, request: OrderRequest) -> OrderReport:
        order = self.place(request)
        if self.latency_ms == 0 and self.latency_jitter_ms == 0 and order.symbol in self._quotes:
            self._match_quote(order.symbol, self._working[order.symbol], self.now)
        return order.report()

    def submit_oco(self, take_profit: OrderRequest, stop: OrderRequest) -> list[OrderReport]:
        """A take-profit limit and a stop-limit on one quantity (``stops``)."""
        return stops.submit_oco(self, take_profit, stop)

    def place(self, request: OrderRequest, *, reserve: bool = True) -> SimOrder:
        """Validate, reserve funds (unless ``reserve`` is off: an OCO's second leg
        shares the first's) and book one order, unmatched."""
        inst = self._instruments.get(request.symbol)
        if inst is None:
            raise BadSymbol(f"unknown symbol {request.symbol}")
        self.orders_received += 1
        prev = self._by_client.get(request.client_id)
        if prev is not None and prev.status.working:
            raise DuplicateClientId(f"client order id {request.client_id} is already open")
        self._validate(inst, request)
        lock_asset, lock_qty = self._check_funds(inst, request) if reserve else ("", ZERO)
        self._seq += 1
        jitter = self._rng.randint(0, self.latency_jitter_ms) if self.latency_jitter_ms else 0
        order = SimOrder(
            client_id=request.client_id,
            venue_id=f"S{self._seq}",
            seq=self._seq,
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            qty=request.qty,
            price=request.price,
            tif=request.tif,
            created_ts=self.now,
            active_at=self.now + self.latency_ms + jitter,
            stop_price=request.stop_price,
            stop_kind=request.stop_kind,
        )
        if lock_qty:
            order.locked = lock_qty
            self._locked[lock_asset] = self._locked.get(lock_asset, ZERO) + lock_qty
        self._by_client[order.client_id] = order
        self._working.setdefault(order.symbol, []).append(order)
        self._emit(order)
        return order

    def drop(self, order: SimOrder) -> None:
        """Undo ``place`` for an order list whose other leg was refused."""
        self._close(order, OrderStatus.REJECTED, "its order list was refused")

    def order(self, client_id: str) -> SimOrder | None:
        return self._by_client.get(client_id)

    @property
    def through(self) -> bool:
        return self._through

    def ref_price(self, symbol: str, side: Side) -> Decimal | None:
        """The price a ``side`` order would meet now (best quote, else last trade)."""
        return self._ref_price(symbol, side)

    def fill_at(self, order: SimOrder, ts: int, price: Decimal, liquidity: Liquidity) -> None:
        self._fill(order, ts, order.remaining, price, liquidity, None)

    def close_order(self, order: SimOrder, status: OrderStatus, reason: str) -> None:
        self._close(order, status, reason)

    def cancel(self, symbol: str, client_id: str) -> OrderReport:
        order = self._by_client.get(client_id)
        if order is None or order.symbol != symbol or not order.status.working:
            raise OrderNotFound(f"no open order {client_id} on {symbol}")
        self._close(order, OrderStatus.CANCELLED, "cancelled by request")
        stops.cancel_partner(self, order)  # an OCO is cancelled whole
        return order.report()

    def fetch_order(self, symbol: str, client_id: str) -> OrderReport | None:
        order = self._by_client.get(client_id)
        if order is None or order.symbol != symbol:
            return None
        return order.report()

    def fetch_open_orders(self, symbol: str | None = None) -> Sequence[OrderReport]:
        if symbol is not None:
            return [o.report() for o in self._working.get(symbol, ())]
        return [o.report() for orders in self._working.values() for o in orders]

    def fetch_fills(self, since_ts: int = 0, symbol: str | None = None) -> Sequence[Fill]:
        return [
            f for f in self._fills if f.ts >= since_ts and (symbol is None or f.symbol == symbol)
        ]

    def fetch_account(self) -> AccountSnapshot:
        balances = {
            asset: Balance(
                asset=asset,
                free=total - self._locked.get(asset, ZERO),
                locked=self._locked.get(asset, ZERO),
            )
            for asset, total in self._balances.items()
        }
        positions: dict[str, Position] = {}
        for sym, inst in self._instruments.items():
            qty = self._balances.get(inst.base, ZERO)
            if qty:
                cost = self._cost.get(sym, ZERO)
                positions[sym] = Position(symbol=sym, qty=qty, avg_price=cost / qty)
        quote = next(iter(self._instruments.values())).quote if self._instruments else "USD"
        return AccountSnapshot(
            ts=self.now,
            quote_asset=quote,
            balances=MappingProxyType(balances),
            positions=MappingProxyType(positions),
            open_orders=tuple(self.fetch_open_orders()),
        )

    def drain_events(self) -> Sequence[VenueEvent]:
        if not self._events:
            return ()
        events, self._events = self._events, []
        return events

    # ------------------------------------------------------- admin (tests, ops)
    def adjust_balance(self, asset: str, delta: Decimal, symbol: str | None = None) -> None:
        """Move funds outside of trading (a deposit, or a position closed by hand)."""
        self._balances[asset] = self._balances.get(asset, ZERO) + delta
        if symbol is not None:
            self._cost.pop(symbol, None)
        self.version += 1

    def hold(self, asset: str, qty: Decimal) -> None:
        """Reserve funds for an order an exchange keeps off the book (a stop not
        yet triggered): they show as locked and no other order may spend them."""
        if self._free(asset) < qty:
            raise InsufficientFunds(f"hold {qty} {asset}, free {self._free(asset)}")
        self._locked[asset] = self._locked.get(asset, ZERO) + qty
        self.version += 1

    def release(self, asset: str, qty: Decimal) -> None:
        """Give back what ``hold`` reserved."""
        self._locked[asset] = self._locked.get(asset, ZERO) - qty
        self.version += 1

    # ------------------------------------------------------------- validation
    def _validate(self, inst: Instrument, req: OrderRequest) -> None:
        if req.stop_price is not None:
            stops.validate(req, self._ref_price(req.symbol, req.side))
        if req.qty <= 0:
            raise InvalidOrder(f"{req.client_id}: quantity must be positive, got {req.qty}")
        if inst.round_qty(req.qty) != req.qty:
            raise InvalidOrder(
                f"{req.client_id}: quantity {req.qty} not a multiple of {inst.lot_size}"
            )
        if req.type is OrderType.LIMIT:
            if req.price is None or req.price <= 0:
                raise InvalidOrder(f"{req.client_id}: a limit order needs a positive price")
            if inst.round_price(req.price) != req.price:
                raise InvalidOrder(
                    f"{req.client_id}: price {req.price} not a multiple of {inst.tick_size}"
                )
        elif req.price is not None:
            raise InvalidOrder(f"{req.client_id}: a market order takes no price")
        ref = req.price if req.price is not None else self._ref_price(req.symbol, req.side)
        why = inst.below_minimum(req.qty, ref if ref is not None else ZERO)
        if why is not None:
            raise InvalidOrder(f"{req.client_id}: {why}")

    def _ref_price(self, symbol: str, side: Side) -> Decimal | None:
        q = self._quotes.get(symbol)
        if q is not None:
            return to_decimal(q[1] if side is Side.BUY else q[0])
        last = self._last.get(symbol)
        return to_decimal(last) if last is not None else None

    def _free(self, asset: str) -> Decimal:
        return self._balances.get(asset, ZERO) - self._locked.get(asset, ZERO)

    def _check_funds(self, inst: Instrument, req: OrderRequest) -> tuple[str, Decimal]:
        """Refuse what a spot account cannot pay for; return what to lock."""
        if req.side is Side.SELL:
            if not self.margin and self._free(inst.base) < req.qty:
                raise InsufficientFunds(
                    f"{req.client_id}: sell {req.qty} {inst.base}, free {self._free(inst.base)}"
                )
            # Every spot sell reserves what it sells (a market sell too, or two
            # of them could each sell the whole holding); margin keeps the
            # old rule: only limit sells lock.
            spot = req.type is OrderType.LIMIT or not self.margin
            return inst.base, (req.qty if spot else ZERO)
        ref = req.price if req.price is not None else self._ref_price(req.symbol, req.side)
        if ref is None:
            return inst.quote, ZERO
        fee = max(inst.taker_fee, inst.maker_fee)
        cost = req.qty * ref * (1 + fee)
        if not self.margin and self._free(inst.quote) < cost:
            raise InsufficientFunds(
                f"{req.client_id}: buy needs {cost} {inst.quote}, free {self._free(inst.quote)}"
            )
        return inst.quote, (cost if req.type is OrderType.LIMIT and not self.margin else ZERO)

    # --------------------------------------------------------------- matching
    def _match_bar(
        self,
        symbol: str,
        orders: list[SimOrder],
        ts: int,
        o: float,
        h: float,
        low: float,
        c: float,
        v: float,
    ) -> None:
        budget = self.slippage.max_qty(v)
        for order in list(orders):
            if order.active_at > ts or not order.status.working:
                continue
            if order.waiting() or order.triggered_bar == ts:
                continue  # a stop: its trigger bar was judged by ``stops``
            if not order.arrived:
                order.arrived = True
                if self._arrive(order, ts, o, o, v, budget) is None:
                    continue
            if order.type is OrderType.MARKET:
                if order.arrived and order.remaining > 0 and order.updated_ts != ts:
                    self._take(order, ts, to_decimal(o), v, budget)
                continue
            if order.remaining > 0 and order.touched(low, h, self._through):
                self._fill(order, ts, order.remaining, order.price or ZERO, Liquidity.MAKER, budget)
        self.now = max(self.now, ts)

    def _match_quote(self, symbol: str, orders: list[SimOrder], ts: int) -> None:
        bid, ask, bid_qty, ask_qty = self._quotes[symbol]
        stops.trigger_tick(orders, bid, ask)
        for order in list(orders):
            if order.active_at > ts or not order.status.working or order.waiting():
                continue
            depth = to_decimal(ask_qty if order.side is Side.BUY else bid_qty)
            ref = ask if order.side is Side.BUY else bid
            if not order.arrived:
                order.arrived = True
                if self._arrive(order, ts, ask, bid, ref, depth) is None:
                    continue
            if order.type is OrderType.MARKET:
                self._take(order, ts, to_decimal(ref), 0.0, depth)
            elif order.marketable(ask, bid):
                self._fill(order, ts, order.remaining, order.price or ZERO, Liquidity.MAKER, depth)

    def _match_trade(
        self, symbol: str, orders: list[SimOrder], ts: int, price: float, qty: float
    ) -> None:
        if symbol in self._quotes:
            return  # quotes drive matching when we have them; trades only mark the price
        avail = to_decimal(qty)
        stops.trigger_tick(orders, price, price)
        for order in list(orders):
            if order.active_at > ts or not order.status.working or order.waiting():
                continue
            if not order.arrived:
                order.arrived = True
                if self._arrive(order, ts, price, price, price, avail) is None:
                    continue
            if order.type is OrderType.MARKET:
                self._take(order, ts, to_decimal(price), 0.0, avail)
            elif order.touched(price, price, self._through):
                self._fill(order, ts, order.remaining, order.price or ZERO, Liquidity.MAKER, avail)

    def _arrive(
        self,
        order: SimOrder,
        ts: int,
        ask: float,
        bid: float,
        volume: float | Decimal,
        budget: Decimal | None,
    ) -> SimOrder | None:
        """The order reaches the book. Returns None when it is done with for now."""
        if order.type is OrderType.MARKET:
            ref = to_decimal(ask if order.side is Side.BUY else bid)
            self._take(order, ts, ref, float(volume), budget)
            return None
        if order.marketable(ask, bid):
            if order.tif is TimeInForce.POST_ONLY:
                self._close(order, OrderStatus.EXPIRED, "post-only order would take liquidity")
                return None
            ref = to_decimal(ask if order.side is Side.BUY else bid)
            self._take(order, ts, ref, float(volume), budget)
            if order.tif is TimeInForce.IOC and order.status.working:
                self._close(order, OrderStatus.EXPIRED, "IOC remainder")
            return None
        if order.tif is TimeInForce.IOC:
            self._close(order, OrderStatus.EXPIRED, "IOC not marketable")
            return None
        return order

    def _take(
        self, order: SimOrder, ts: int, ref: Decimal, volume: float, budget: Decimal | None
    ) -> None:
        price = self.slippage.price(order.side, ref, order.remaining, volume)
        if order.price is not None:  # a marketable limit never fills beyond its limit
            price = min(price, order.price) if order.side is Side.BUY else max(price, order.price)
        self._fill(order, ts, order.remaining, price, Liquidity.TAKER, budget)

    def _fill(
        self,
        order: SimOrder,
        ts: int,
        qty: Decimal,
        price: Decimal,
        liquidity: Liquidity,
        budget: Decimal | None,
    ) -> None:
        inst = self._instruments[order.symbol]
        price = inst.round_price(price)
        if budget is not None:
            qty = min(qty, inst.round_qty(budget - self._used_budget(order.symbol, ts)))
        fee_rate = inst.taker_fee if liquidity is Liquidity.TAKER else inst.maker_fee
        if order.side is Side.BUY and not self.margin:
            free = self._free(inst.quote) + order.locked
            affordable = inst.round_qty(free / (price * (1 + fee_rate))) if price > 0 else qty
            if affordable < qty:
                qty = max(affordable, ZERO)
                if qty <= 0:
                    self._close(order, OrderStatus.EXPIRED, "insufficient balance at fill")
                    return
        if qty <= 0:
            return
        notional = qty * price
        fee = notional * fee_rate
        sign = order.side.sign
        self._balances[inst.base] = self._balances.get(inst.base, ZERO) + sign * qty
        self._balances[inst.quote] = self._balances.get(inst.quote, ZERO) - sign * notional - fee
        self._update_cost(order.symbol, inst.base, sign * qty, price)
        order.filled += qty
        order.filled_notional += notional
        order.updated_ts = ts
        self._budget[order.symbol] = (ts, self._used_budget(order.symbol, ts) + qty)
        self._unlock(order, inst, qty, price)
        self._trade_seq += 1
        fill = Fill(
            trade_id=f"T{self._trade_seq}",
            client_id=order.client_id,
            venue_order_id=order.venue_id,
            symbol=order.symbol,
            side=order.side,
            qty=qty,
            price=price,
            fee=fee,
            fee_asset=inst.quote,
            liquidity=liquidity,
            ts=ts,
        )
        self._fills.append(fill)
        if self._history is not None and len(self._fills) > 2 * self._history:
            del self._fills[: -self._history]  # amortised: cut back at twice the bound
        self._events.append(FillReceived(fill))
        if order.remaining <= 0:
            self._close(order, OrderStatus.FILLED, "")
        else:
            self._set_status(order, OrderStatus.PARTIALLY_FILLED)
        if order.linked:
            stops.expire_partner(self, order)

    def _used_budget(self, symbol: str, ts: int) -> Decimal:
        """How much of this market event's volume our fills already took."""
        at, used = self._budget.get(symbol, (-1, ZERO))
        return used if at == ts else ZERO

    def _update_cost(self, symbol: str, base: str, delta: Decimal, price: Decimal) -> None:
        """Average-cost basis of the open position, for reporting ``avg_price``."""
        after = self._balances[base]
        before = after - delta
        cost = self._cost.get(symbol, ZERO)
        if before == 0 or (before > 0) == (delta > 0):
            cost += delta * price  # opening or adding
        elif after == 0:
            cost = ZERO
        elif (after > 0) != (before > 0):
            cost = after * price  # flipped through zero
        else:
            cost = cost * after / before  # reducing keeps the average
        self._cost[symbol] = cost

    def _unlock(self, order: SimOrder, inst: Instrument, qty: Decimal, price: Decimal) -> None:
        if not order.locked:
            return
        asset = inst.base if order.side is Side.SELL else inst.quote
        if order.side is Side.SELL:
            release = min(order.locked, qty)
        else:
            assert order.price is not None
            fee = max(inst.taker_fee, inst.maker_fee)
            release = min(order.locked, qty * order.price * (1 + fee))
        order.locked -= release
        self._locked[asset] = self._locked.get(asset, ZERO) - release

    def _close(self, order: SimOrder, status: OrderStatus, reason: str) -> None:
        inst = self._instruments[order.symbol]
        if order.locked:
            asset = inst.base if order.side is Side.SELL else inst.quote
            self._locked[asset] = self._locked.get(asset, ZERO) - order.locked
            order.locked = ZERO
        order.reason = reason
        orders = self._working.get(order.symbol)
        if orders is not None and order in orders:
            orders.remove(order)
        self._set_status(order, status)

    def _set_status(self, order: SimOrder, status: OrderStatus) -> None:
        order.status = status
        order.updated_ts = max(order.updated_ts, self.now)
        self._emit(order)
        if self._history is not None and status.terminal:
            self._forget(order)

    def _forget(self, order: SimOrder) -> None:
        """Remember ``order`` as ended; forget the oldest ended beyond the bound."""
        self._ended.pop(order.client_id, None)
        self._ended[order.client_id] = None
        assert self._history is not None
        while len(self._ended) > self._history:
            cid = next(iter(self._ended))
            del self._ended[cid]
            old = self._by_client.get(cid)
            if old is not None and old.status.terminal:
                del self._by_client[cid]

    def _emit(self, order: SimOrder) -> None:
        self.version += 1
        self._events.append(OrderUpdated(order.report()))

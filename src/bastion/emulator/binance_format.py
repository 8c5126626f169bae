"""Binance spot's JSON shapes, in one place.

Every reply and stream message the emulator sends is built here, so a field
ccxt (or a bot's own parser) relies on is spelled once. Decimals go out as
strings with eight places, as Binance sends them; times are epoch ms.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from bastion.emulator.records import FillRecord, OrderList, OrderRecord
from bastion.model import Balance, Instrument, Side

Json = dict[str, Any]

_MAX_PRICE = Decimal("1000000")
_MAX_QTY = Decimal("9000")
# BTCUSDT's values on the real exchange (exchangeInfo, 2025): how far a limit
# price may stray from the 5-minute average, and how many orders may rest.
PERCENT_PRICE_BY_SIDE = {
    "bidMultiplierUp": Decimal("5"),
    "bidMultiplierDown": Decimal("0.2"),
    "askMultiplierUp": Decimal("5"),
    "askMultiplierDown": Decimal("0.2"),
}
AVG_PRICE_MINS = 5
MAX_NUM_ORDERS = 200
MAX_NUM_ALGO_ORDERS = 5
ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")


def exchange_symbol(symbol: str) -> str:
    """``BTC/USDT`` → ``BTCUSDT`` (Binance writes pairs without a separator)."""
    return symbol.replace("/", "").upper()


def fmt(value: Decimal | None) -> str:
    """Eight decimal places, as every Binance amount is written."""
    return f"{(value if value is not None else Decimal(0)):.8f}"


def side_name(side: Side) -> str:
    return "BUY" if side is Side.BUY else "SELL"


def symbol_info(
    inst: Instrument, max_orders: int = MAX_NUM_ORDERS, max_algo: int = MAX_NUM_ALGO_ORDERS
) -> Json:
    """One ``exchangeInfo`` symbol: the filters ccxt derives precision and limits
    from, in the real exchange's order, with the flags it sends today."""
    tick = inst.tick_size
    lot = inst.lot_size
    return {
        "symbol": exchange_symbol(inst.symbol),
        "status": "TRADING",
        "baseAsset": inst.base,
        "baseAssetPrecision": 8,
        "quoteAsset": inst.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": list(ORDER_TYPES),
        "icebergAllowed": False,
        "ocoAllowed": True,
        "otoAllowed": False,
        "opoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": False,
        "amendAllowed": False,
        "pegInstructionsAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": fmt(tick),
                "maxPrice": fmt(_MAX_PRICE),
                "tickSize": fmt(tick),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": fmt(max(inst.min_qty, lot)),
                "maxQty": fmt(_MAX_QTY),
                "stepSize": fmt(lot),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": fmt(max(inst.min_qty, lot)),
                "maxQty": fmt(_MAX_QTY),
                "stepSize": fmt(lot),
            },
            {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                **{k: str(v) for k, v in PERCENT_PRICE_BY_SIDE.items()},
                "avgPriceMins": AVG_PRICE_MINS,
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": fmt(inst.min_notional),
                "applyMinToMarket": True,
                "maxNotional": fmt(Decimal("9000000")),
                "applyMaxToMarket": False,
                "avgPriceMins": AVG_PRICE_MINS,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": max_orders},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": max_algo},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def exchange_info(
    instruments: Iterable[Instrument],
    server_ms: int,
    weight_limit: int,
    max_orders: int = MAX_NUM_ORDERS,
) -> Json:
    return {
        "timezone": "UTC",
        "serverTime": server_ms,
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": weight_limit,
            },
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
        ],
        "exchangeFilters": [],
        "symbols": [symbol_info(i, max_orders) for i in instruments],
    }


# ------------------------------------------------------------------------ orders
# Field order follows the replies recorded from the real exchange in ccxt's
# ts/src/test/static/response/binance.json (createOrder, fetchOrder,
# fetchOpenOrders) and Binance's spot API docs (cancel, orderList/oco).
def _working_time(rec: OrderRecord) -> int:
    """When the order reached the book; -1 for a stop still waiting to trigger."""
    return rec.working_ms if rec.working_ms is not None else -1


def order_ack(rec: OrderRecord) -> Json:
    return {
        "symbol": rec.symbol,
        "orderId": rec.order_id,
        "orderListId": rec.order_list_id,
        "clientOrderId": rec.client_id,
        "transactTime": rec.created_ms,
    }


def _amounts(rec: OrderRecord) -> Json:
    return {
        "price": fmt(rec.price),
        "origQty": fmt(rec.qty),
        "executedQty": fmt(rec.executed),
        "origQuoteOrderQty": fmt(rec.orig_quote_qty),
        "cummulativeQuoteQty": fmt(rec.cum_quote),
        "status": rec.status,
        "timeInForce": rec.tif_name or "GTC",
        "type": rec.type_name,
        "side": side_name(rec.side),
    }


def _stop(rec: OrderRecord) -> Json:
    return {"stopPrice": fmt(rec.stop_price)} if rec.stop_price is not None else {}


def order_result(rec: OrderRecord) -> Json:
    """``newOrderRespType=RESULT``: the ACK plus the order's amounts and state."""
    return {
        **order_ack(rec),
        **_amounts(rec),
        **_stop(rec),
        "workingTime": _working_time(rec),
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def order_full(rec: OrderRecord, fills: Sequence[FillRecord]) -> Json:
    out = order_result(rec)
    stp = out.pop("selfTradePreventionMode")
    out["fills"] = [
        {
            "price": fmt(f.price),
            "qty": fmt(f.qty),
            "commission": fmt(f.commission),
            "commissionAsset": f.commission_asset,
            "tradeId": f.trade_id,
        }
        for f in fills
    ]
    out["selfTradePreventionMode"] = stp
    return out


def order_query(rec: OrderRecord) -> Json:
    """``GET /api/v3/order``, ``openOrders`` and ``allOrders`` entries."""
    amounts = _amounts(rec)
    orig_quote = amounts.pop("origQuoteOrderQty")
    return {
        "symbol": rec.symbol,
        "orderId": rec.order_id,
        "orderListId": rec.order_list_id,
        "clientOrderId": rec.client_id,
        **amounts,
        "stopPrice": fmt(rec.stop_price),
        "icebergQty": fmt(None),
        "time": rec.created_ms,
        "updateTime": rec.updated_ms,
        "isWorking": rec.is_working,
        "workingTime": _working_time(rec),
        "origQuoteOrderQty": orig_quote,
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def order_canceled(rec: OrderRecord) -> Json:
    """``DELETE /api/v3/order``: Binance sends no ``workingTime`` here."""
    return {
        "symbol": rec.symbol,
        "origClientOrderId": rec.client_id,
        "orderId": rec.order_id,
        "orderListId": rec.order_list_id,
        "clientOrderId": rec.client_id,
        "transactTime": rec.updated_ms,
        **_amounts(rec),
        **_stop(rec),
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def _list_head(lst: OrderList, recs: Sequence[OrderRecord], at_ms: int) -> Json:
    status = "ALL_DONE" if lst.done else "EXEC_STARTED"
    return {
        "orderListId": lst.list_id,
        "contingencyType": "OCO",
        "listStatusType": status,
        "listOrderStatus": "ALL_DONE" if lst.done else "EXECUTING",
        "listClientOrderId": lst.list_client_id,
        "transactionTime": at_ms,
        "symbol": lst.symbol,
        "orders": [
            {"symbol": r.symbol, "orderId": r.order_id, "clientOrderId": r.client_id} for r in recs
        ],
    }


def order_list(lst: OrderList, recs: Sequence[OrderRecord], resp_type: str, at_ms: int) -> Json:
    """``POST /api/v3/orderList/oco``: the list and a report per leg in ``resp_type``."""

    def report(rec: OrderRecord) -> Json:
        if resp_type == "ACK":
            return order_ack(rec)
        return order_result(rec) if resp_type == "RESULT" else order_full(rec, rec.fills)

    return {**_list_head(lst, recs, at_ms), "orderReports": [report(r) for r in recs]}


def order_list_canceled(lst: OrderList, recs: Sequence[OrderRecord], at_ms: int) -> Json:
    """``DELETE /api/v3/orderList``: the list with each leg's cancel reply."""
    return {**_list_head(lst, recs, at_ms), "orderReports": [order_canceled(r) for r in recs]}


def order_list_query(lst: OrderList, recs: Sequence[OrderRecord]) -> Json:
    """``GET /api/v3/orderList`` and ``openOrderList`` entries."""
    return _list_head(lst, recs, lst.created_ms)


def list_status(lst: OrderList, recs: Sequence[OrderRecord], event_ms: int) -> Json:
    """The user stream's ``listStatus``, sent beside each leg's executionReport."""
    head = _list_head(lst, recs, event_ms)
    return {
        "e": "listStatus",
        "E": event_ms,
        "s": lst.symbol,
        "g": lst.list_id,
        "c": "OCO",
        "l": head["listStatusType"],
        "L": head["listOrderStatus"],
        "r": "NONE",
        "C": lst.list_client_id,
        "T": event_ms,
        "O": [{"s": r.symbol, "i": r.order_id, "c": r.client_id} for r in recs],
    }


def my_trade(f: FillRecord) -> Json:
    return {
        "symbol": f.symbol,
        "id": f.trade_id,
        "orderId": f.order_id,
        "orderListId": -1,
        "price": fmt(f.price),
        "qty": fmt(f.qty),
        "quoteQty": fmt(f.quote_qty),
        "commission": fmt(f.commission),
        "commissionAsset": f.commission_asset,
        "time": f.time,
        "isBuyer": f.side is Side.BUY,
        "isMaker": f.is_maker,
        "isBestMatch": True,
    }


def account(balances: Mapping[str, Balance], server_ms: int, fee_bps: int) -> Json:
    return {
        "makerCommission": fee_bps,
        "takerCommission": fee_bps,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": fmt(Decimal(fee_bps) / 10_000),
            "taker": fmt(Decimal(fee_bps) / 10_000),
            "buyer": fmt(None),
            "seller": fmt(None),
        },
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": server_ms,
        "accountType": "SPOT",
        "balances": [
            {"asset": b.asset, "free": fmt(b.free), "locked": fmt(b.locked)}
            for b in sorted(balances.values(), key=lambda b: b.asset)
        ],
        "permissions": ["SPOT"],
        "uid": 1,
    }


# ------------------------------------------------------------ user data stream
def execution_report(
    rec: OrderRecord, exec_type: str, event_ms: int, fill: FillRecord | None = None
) -> Json:
    """Binance's ``executionReport``: one per order state change or per fill."""
    return {
        "e": "executionReport",
        "E": event_ms,
        "s": rec.symbol,
        "c": rec.client_id,
        "S": side_name(rec.side),
        "o": rec.type_name,
        "f": rec.tif_name or "GTC",
        "q": fmt(rec.qty),
        "p": fmt(rec.price),
        "P": fmt(rec.stop_price),
        "F": fmt(None),
        "g": rec.order_list_id,
        "C": rec.client_id if exec_type == "CANCELED" else "",
        "x": exec_type,
        "X": rec.status,
        "r": "NONE",
        "i": rec.order_id,
        "l": fmt(fill.qty if fill else None),
        "z": fmt(rec.executed),
        "L": fmt(fill.price if fill else None),
        "n": fmt(fill.commission if fill else None),
        "N": fill.commission_asset if fill else None,
        "T": fill.time if fill else rec.updated_ms,
        "t": fill.trade_id if fill else -1,
        "I": rec.order_id * 10 + len(rec.fills),
        "w": rec.is_open and rec.is_working,
        "m": bool(fill and fill.is_maker),
        "M": False,
        "O": rec.created_ms,
        "Z": fmt(rec.cum_quote),
        "Y": fmt(fill.quote_qty if fill else None),
        "Q": fmt(rec.orig_quote_qty),
        **({"W": rec.working_ms} if rec.working_ms is not None else {}),
        "V": "EXPIRE_MAKER",
    }


def account_position(balances: Iterable[Balance], event_ms: int) -> Json:
    return {
        "e": "outboundAccountPosition",
        "E": event_ms,
        "u": event_ms,
        "B": [{"a": b.asset, "f": fmt(b.free), "l": fmt(b.locked)} for b in balances],
    }

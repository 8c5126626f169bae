"""Order lists on the wire: Binance's OCO (``POST /api/v3/orderList/oco``).

ccxt has no unified call for a spot OCO, so the venue sends Binance's own
parameters through ccxt's implicit ``private_post_orderlist_oco``. A sell
protects a long: the take-profit (a LIMIT_MAKER) rests above the market and
the STOP_LOSS_LIMIT waits below it; a buy is the mirror image.
"""

from __future__ import annotations

from typing import Any

from bastion.model import OrderRequest, Side


def oco_params(ex: Any, take_profit: OrderRequest, stop: OrderRequest) -> dict[str, Any]:
    """Binance's OCO parameters for two legs of one side and quantity."""
    if (take_profit.side, take_profit.qty, take_profit.symbol) != (
        stop.side,
        stop.qty,
        stop.symbol,
    ):
        raise ValueError("an OCO's legs share one symbol, side and quantity")
    if take_profit.price is None or stop.price is None or stop.stop_price is None:
        raise ValueError("an OCO needs a take-profit price, a stop price and a stop's limit price")
    sym = take_profit.symbol
    profit = {
        "Type": "LIMIT_MAKER",
        "Price": ex.price_to_precision(sym, str(take_profit.price)),
        "ClientOrderId": take_profit.client_id,
    }
    loss = {
        "Type": "STOP_LOSS_LIMIT",
        "Price": ex.price_to_precision(sym, str(stop.price)),
        "StopPrice": ex.price_to_precision(sym, str(stop.stop_price)),
        "TimeInForce": "GTC",
        "ClientOrderId": stop.client_id,
    }
    above, below = (profit, loss) if take_profit.side is Side.SELL else (loss, profit)
    return {
        "symbol": ex.market_id(sym),
        "side": take_profit.side.value.upper(),
        "quantity": ex.amount_to_precision(sym, str(take_profit.qty)),
        "listClientOrderId": take_profit.client_id,
        "newOrderRespType": "RESULT",
        **{f"above{k}": v for k, v in above.items()},
        **{f"below{k}": v for k, v in below.items()},
    }

"""A user's strategy as text, written to a folder outside the package by the
tests: it imports only the documented API (``bastion.strategy``)."""

BREAKOUT = '''
from dataclasses import dataclass
from decimal import Decimal

from bastion.strategy import History, Strategy, TargetPosition


@dataclass(frozen=True, slots=True, kw_only=True)
class Params:
    lookback: int = 20
    qty: Decimal = Decimal("0.01")


class Breakout(Strategy):
    """Long when the close breaks above the highest high of the previous
    ``lookback`` bars; flat when it breaks below their lowest low."""

    name = "breakout"
    Params = Params

    def indicators(self, symbol):
        return (History(self.params.lookback + 1),)

    def initial_memory(self):
        return {}

    def decide(self, view, account, memory):
        intents = []
        targets = dict(memory)
        for symbol in self.symbols:
            bars = view.history(symbol, self.params.lookback + 1)
            if len(bars) <= self.params.lookback:
                continue
            *before, now = bars
            want = targets.get(symbol, Decimal(0))
            if now.close > max(b.high for b in before):
                want = self.params.qty
            elif now.close < min(b.low for b in before):
                want = Decimal(0)
            if want != targets.get(symbol, Decimal(0)):
                targets[symbol] = want
                intents.append(TargetPosition(symbol=symbol, qty=want))
        return intents, targets
'''

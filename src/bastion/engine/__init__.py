"""The engine: the decision cycle and the shells that drive it (backtest now;
paper and live drive the same cycle from asyncio)."""

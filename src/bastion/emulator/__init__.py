"""The exchange emulator: Binance spot REST v3 and WebSocket streams on loopback,
backed by bastion's simulated venue, with fault injection.

Start one in a test::

    emu = Emulator(EmulatorConfig(source="none"))
    await emu.start()
    exchange = point_ccxt(ccxt.async_support.binance({...}), emu.url)
    ...
    await emu.stop()

or from the shell: ``bastion emulator --port 8765 --admin-port 8766``.
"""

from bastion.emulator.client import CCXT_OPTIONS, point_ccxt
from bastion.emulator.faults import FaultKind, FaultSpec, load_scenario
from bastion.emulator.run import main, run_emulator
from bastion.emulator.server import (
    TEST_API_KEY,
    TEST_API_SECRET,
    Emulator,
    EmulatorConfig,
    EmulatorThread,
)

__all__ = [
    "CCXT_OPTIONS",
    "TEST_API_KEY",
    "TEST_API_SECRET",
    "Emulator",
    "EmulatorConfig",
    "EmulatorThread",
    "FaultKind",
    "FaultSpec",
    "load_scenario",
    "main",
    "point_ccxt",
    "run_emulator",
]

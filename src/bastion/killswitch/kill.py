"""A kill: halt the bot, then flatten its exchange account, then report.

``KillSwitch`` is what ``bastion kill`` runs once and what the sentinel keeps
for its lifetime (with its exchange connections warm, so a kill does not pay
for ``load_markets``). Kills are serialised: a second request waits for the
first and then finds nothing to do, which is what makes pressing the button
twice safe.

On a paper config (``exchange.mode = "paper"``) the kill's venues are the
paper book in the data folder (``bastion.killswitch.paperbook``, which says
how a kill shares the book with a running bot): no ccxt client is made, so no
request reaches the exchange whatever keys the environment holds.
"""

from __future__ import annotations

import json
import os
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from bastion.clock import wall_ms
from bastion.config import BotConfig
from bastion.killswitch.flatten import flatten, record_to
from bastion.killswitch.halt import Halt
from bastion.killswitch.paperbook import PaperBooks
from bastion.killswitch.share import venue_share
from bastion.killswitch.venueset import VenueSet
from bastion.killswitch.watchdog import read_heartbeat
from bastion.model.timeframe import parse_interval
from bastion.state.baseline import BaselineUnreadable, read_floors
from bastion.venues.ccxt import CcxtVenue, Credentials
from bastion.venues.errors import AuthenticationError
from bastion.venues.port import Venue

REPORT_FILE = "killswitch-last.json"


def scope_symbols(config: BotConfig) -> list[str]:
    """The strategies' symbols plus ``[killswitch] symbols``, in a stable order."""
    out = [s for st in config.strategies for s in st.symbols] + list(config.killswitch.symbols)
    return list(dict.fromkeys(out))


def venue_factory(config: BotConfig) -> Any:
    """Symbol -> a started ccxt venue for it (no private stream: REST is enough)."""
    ex = config.exchange
    creds = Credentials.from_env(ex.key_env)

    def make(symbol: str) -> Venue:
        if creds is None:
            raise AuthenticationError(
                f"{ex.key_env}_API_KEY and {ex.key_env}_API_SECRET are not in the environment"
            )
        venue = CcxtVenue(
            ex.id,
            [symbol],
            credentials=creds,
            base_url=ex.base_url,
            ws_url=ex.ws_url,
            sandbox=ex.sandbox,
            call_timeout_s=ex.call_timeout_s,
            rate_limit=config.killswitch.rate_limit,
            private_stream=False,
        )
        try:
            venue.start()
        except BaseException:
            venue.close()
            raise
        return venue

    return make


class KillSwitch:
    """Halt + flatten for one bot (its config and data folder)."""

    def __init__(self, config: BotConfig, data_dir: Path, venues: VenueSet | None = None) -> None:
        self.config = config
        self.data_dir = data_dir
        self.paper = PaperBooks(data_dir) if config.exchange.mode == "paper" else None
        if venues is None:
            factory = self.paper.factory if self.paper is not None else venue_factory(config)
            venues = VenueSet(scope_symbols(config), factory)
        self.venues = venues
        self.last: dict[str, Any] | None = _load_report(data_dir)
        self._lock = threading.Lock()

    def kill(self, *, reason: str, by: str) -> dict[str, Any]:
        """Halt, cancel, close, poll until flat or the deadline; the report."""
        with self._lock:
            started = wall_ms()
            t0 = time.monotonic()
            halt = Halt(self.data_dir, reason=reason, by=by, now_ms=started)
            flag_down_ms = wall_ms()  # a cycle that starts later sees the flag
            if self.config.killswitch.scope == "account":
                self._widen_to_account()
            deadline = self.config.killswitch.deadline_s
            self.venues.keys_refused = None
            floors, floor_error = self.floors()
            # Bot scope: never below the baseline, nor more than the bot's records own.
            bot_scope = self.config.killswitch.scope != "account" and not floor_error
            adopt = self.config.account.adopt
            own = venue_share(self.data_dir, self.venues, adopt) if bot_scope else None
            # Bot scope: the closes sell the bot's share, so they are the bot's fills.
            record = record_to(self.data_dir) if bot_scope else None
            # Stops at refused keys.
            result = flatten(
                self.venues, deadline_s=deadline, floors=floors, own=own, record=record
            )
            refused = None if result.flat else self.venues.keys_refused
            if refused is not None:  # the halt is down; the exchange will not take our calls
                ack = "not waited: keys refused"
            else:
                ack = self._await_ack(flag_down_ms, t0 + deadline)
            if ack.startswith("halted"):  # orders a cycle already under way sent are swept
                left = max(1.0, t0 + deadline - time.monotonic())
                result.absorb(
                    flatten(self.venues, deadline_s=left, floors=floors, own=own, record=record)
                )
            if floor_error:  # positions were left as they are: not flat
                result.errors.append(floor_error)
                result.flat = False
            report = {
                "ok": result.flat,
                **self.guarding(),
                "reason": reason,
                "by": by,
                "started_ms": started,
                "elapsed_s": round(time.monotonic() - t0, 3),
                "scope": self.config.killswitch.scope,
                "symbols": list(self.venues.symbols),
                "not_listed": dict(self.venues.unknown),
                "bot_ack": ack,
                "baseline": {a: str(q) for a, q in sorted(floors.items()) if q.is_finite()},
                **result.as_dict(),
            }
            if refused is not None:
                report["keys_refused"] = refused
                report["key_env"] = self.config.exchange.key_env
            halted = halt.wait(timeout_s=6.0)  # the flag is down; the store may be locked
            report["halt"] = {"flag": halted.flag, "store": halted.store}
            self.last = report
            _save_report(self.data_dir, report)
            return report

    def guarding(self) -> dict[str, str]:
        """Which bot, exchange and mode this kill switch guards (and where it acts)."""
        ex = self.config.exchange
        acts_on = self.paper.describe() if self.paper is not None else f"{ex.id} account"
        return {"bot": self.config.name, "exchange": ex.id, "mode": ex.mode, "acts_on": acts_on}

    def _await_ack(self, flag_ms: int, end: float) -> str:
        """Wait until a bot that is cycling has started a cycle after the flag.

        Cycles run one at a time and each checks the flag first, so a heartbeat
        (the start time of the last finished cycle) at or after the flag means
        no cycle that began before the kill can still send an order. A bot not
        cycling (dead, hung, never started) is not waited for."""
        recent_ms = 3 * parse_interval(self.config.exchange.bar_interval) + 2_000
        beat = read_heartbeat(self.data_dir)
        if beat is None or flag_ms - beat > recent_ms:
            age = "never" if beat is None else f"{(flag_ms - beat) / 1000:.1f}s ago"
            return f"bot not cycling (last cycle {age})"
        wait_end = min(end, time.monotonic() + recent_ms / 1000)
        while time.monotonic() < wait_end:
            beat = read_heartbeat(self.data_dir)
            if beat is not None and beat >= flag_ms:
                return f"halted: bot cycled at {beat} after the flag"
            time.sleep(0.05)
        return "no acknowledgement: the bot did not finish a cycle after the flag"

    def floors(self) -> tuple[dict[str, Decimal], str]:
        """Per asset, what a kill leaves (the baseline: not the bot's), and an error.

        Bot scope leaves the baseline the bot recorded in its folder; account
        scope sells everything. A store that cannot be read leaves every
        position as it is (orders are still cancelled): a kill must not guess
        what is the bot's."""
        if self.config.killswitch.scope == "account":
            return {}, ""
        try:
            return read_floors(self.data_dir), ""
        except BaselineUnreadable as exc:
            bases = {s.split("/")[0] for s in self.venues.symbols}
            return dict.fromkeys(bases, Decimal("Infinity")), f"baseline unreadable: {exc}"

    def _widen_to_account(self) -> None:
        """Account scope: every asset with a balance, traded against the quote asset."""
        self.venues.connect()
        acct, _ = self.venues.read()
        if acct is None:
            return
        quote = acct.quote_asset
        held = [a for a, b in acct.balances.items() if a != quote and b.total > 0]
        self.venues.add(f"{a}/{quote}" for a in sorted(held))

    def close(self) -> None:
        self.venues.close()
        if self.paper is not None:
            self.paper.close()


def _save_report(data_dir: Path, report: dict[str, Any]) -> None:
    path = data_dir / REPORT_FILE
    tmp = path.with_name(f".{REPORT_FILE}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # the report is also returned and audited; the disk may be the problem


def _load_report(data_dir: Path) -> dict[str, Any] | None:
    try:
        raw = json.loads((data_dir / REPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None

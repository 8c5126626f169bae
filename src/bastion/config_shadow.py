"""``[shadow]`` and ``[flags]``: how a new strategy version earns the right to trade.

A ``[[strategies]]`` entry with ``mode = "shadow"`` runs beside production on
the same data in the same cycle: decided, planned and reviewed by risk against
a simulated book seeded from the live account, journaled as ``shadow_*``
events, never sent. ``[flags] trade`` chooses, per strategy id, which version
(the 12-character version hash ``bastion journal --kind strategies`` shows)
trades; every other entry with that id then runs in shadow::

    [[strategies]]
    name = "strategies/mine.py:Mine"      # the version that trades today
    id = "mine"
    [[strategies]]
    name = "strategies/mine_v2.py:Mine"   # the candidate
    id = "mine"
    mode = "shadow"

    [flags]
    trade = { mine = "3f9a0c1b2d4e" }     # flip to the candidate's hash to promote it

    [shadow]
    min_hours = 24

A live bot refuses at start a version that has not run in shadow on this bot
for ``min_hours`` without a halt or a critical alert (unless the bot never
traded live before, or ``bastion run --force-reason TEXT`` overrides it,
journaled and alerted). ``gate = false`` turns the check off.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_HASH = re.compile(r"[0-9a-f]{12}\Z")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ShadowConfig(_Strict):
    """``[shadow]``: the evidence a new version needs before it may trade live. A
    version not yet traded live on this bot must have run in shadow here for
    ``min_hours`` since the last halt or critical alert; ``gate = false`` turns
    the check off. ``bastion run --force-reason TEXT`` overrides it (journaled
    and alerted)."""

    min_hours: float = Field(24.0, ge=0)
    gate: bool = True


class FlagsConfig(_Strict):
    """``[flags]``: ``trade`` maps a strategy id to the version hash that trades;
    every other ``[[strategies]]`` entry with that id runs in shadow."""

    trade: dict[str, str] = Field(default_factory=dict)

    @field_validator("trade")
    @classmethod
    def _hashes(cls, v: dict[str, str]) -> dict[str, str]:
        for sid, version in v.items():
            if not _HASH.match(version):
                raise ValueError(
                    f"trade.{sid} = {version!r}: expected a 12-character version hash "
                    "(bastion journal DIR --kind strategies shows each entry's)"
                )
        return v

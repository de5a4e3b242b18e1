"""What a render costs on the local server (the formula docs/server.md states).

A render costs its quality's rate for every started second of render wall time, at least one
second. POST reserves one second's worth (the least any render can cost); the terminal transition
refunds the reserve and charges the real cost. A failed render costs nothing.
"""
from __future__ import annotations

import math

#: credits per started second of render wall time
RATES: dict[str, int] = {"low": 1, "medium": 2, "high": 4, "twok": 6, "fourk": 10}

DEFAULT_PAID_CREDITS = 10_000
DEFAULT_MONTHLY_FREE_CREDITS = 1_000


def reserve_for(quality: str) -> int:
    """The minimum reserve taken on POST: one second at this quality."""
    return RATES[quality]


def cost_for(quality: str, duration_ms: int) -> int:
    """The settled cost of a completed render of `duration_ms` wall time."""
    return RATES[quality] * max(1, math.ceil(duration_ms / 1000))

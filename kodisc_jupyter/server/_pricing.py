"""What a render costs on the local server (the formula docs/server.md states).

A render costs its quality's rate for every started second of render wall time, at least one
second. POST reserves one second's worth (the least any render can cost); the terminal transition
refunds the reserve and charges the real cost.

A failed render costs nothing when it failed quickly (a typo, an exception early in `construct`:
the loop of fixing a scene stays free) or on our side. One that held its worker for
FREE_FAILURE_SECONDS or more, or until its timeout, is charged like a completed render of that
length: a worker held is a worker another user waited for, whatever the scene did with it.
"""
from __future__ import annotations

import math

#: credits per started second of render wall time
RATES: dict[str, int] = {"low": 1, "medium": 2, "high": 4, "twok": 6, "fourk": 10}

DEFAULT_PAID_CREDITS = 10_000
DEFAULT_MONTHLY_FREE_CREDITS = 1_000
#: A failed render that held its worker at least this long (or until its timeout) is charged for that time.
FREE_FAILURE_SECONDS = 30.0


def reserve_for(quality: str) -> int:
    """The minimum reserve taken on POST: one second at this quality."""
    return RATES[quality]


def cost_for(quality: str, duration_ms: int) -> int:
    """The settled cost of a render of `duration_ms` wall time (completed, or failed and charged)."""
    return RATES[quality] * max(1, math.ceil(duration_ms / 1000))


def charged_failure(duration_ms: int, timeout: float) -> bool:
    """Whether a render that failed after `duration_ms` pays for its time (see the module's policy)."""
    return duration_ms >= min(FREE_FAILURE_SECONDS, timeout) * 1000

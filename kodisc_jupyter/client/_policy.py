"""When to retry a request and when to poll a job again: two small, swappable policies.

Both are pure functions of their inputs plus an injectable random source, so tests and the
polling benchmark drive them on a virtual clock. Pass your own to `Kodisc(retry_policy=...,
poll_policy=...)`; any object with the same method works.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date); None if absent/invalid."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        seconds = (moment - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2**n)).

    A `Retry-After` from the server replaces the jittered delay, capped at `max_retry_after`
    so a misbehaving header cannot park a notebook for an hour.
    """

    base: float = 0.5
    cap: float = 8.0
    max_retry_after: float = 60.0
    random: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to sleep before retry number `attempt` (0 = the first retry)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return self.random() * min(self.cap, self.base * 2.0**attempt)


@dataclass
class PollPolicy:
    """How long to wait before the next `GET /render/{jobId}` while waiting for a job.

    Goal: see completion within ~0.25 s (median) while spending on average at most `rate`
    requests per second per job. A token bucket (`rate`, `burst`) bounds the spending; within
    it the schedule is:

    * the first `start_phase` seconds: every `start_interval` (catches short jobs and queued→running);
    * with no hint: every `steady_interval` seconds, a little over 1/`rate` so that the fast
      start is paid back -- without a hint a fixed budget cannot do better than a median ~0.5 s;
    * with `expected_seconds` (e.g. the median duration of past renders of the same quality):
      sparse polls until the window `expected * (1 ± spread) ± margin`, then the remaining
      budget up to the window's end spread evenly across it (never closer than
      `dense_interval`), then back to `steady_interval`.

    `benchmarks/polling.py` measures the result against fixed 3 s polling.
    """

    rate: float = 1.0
    burst: float = 3.0
    start_phase: float = 0.5
    start_interval: float = 0.25
    steady_interval: float = 1.1
    dense_interval: float = 0.1
    spread: float = 0.2
    margin: float = 0.3
    max_interval: float = 5.0

    def next_delay(self, elapsed: float, status: str, attempt: int,
                   expected_seconds: float | None = None) -> float:
        """Seconds until the next poll.

        `elapsed`: seconds since the job was submitted; `status`: its last seen status;
        `attempt`: polls already sent; `expected_seconds`: a hint for the total time to finish.
        """
        earliest = (attempt + 1 - self.burst) / self.rate - elapsed
        return max(self._desired(elapsed, attempt, expected_seconds), earliest, 0.0)

    def _desired(self, elapsed: float, attempt: int, expected: float | None) -> float:
        steady = self.steady_interval
        if elapsed < self.start_phase:
            return self.start_interval
        if expected is None or expected <= 0:
            return steady
        window_start = expected * (1 - self.spread) - self.margin
        window_end = expected * (1 + self.spread) + self.margin
        if elapsed < window_start:
            gap = window_start - elapsed
            return gap if gap <= self.max_interval else min(self.max_interval, max(steady, gap / 2))
        if elapsed < window_end:
            budget = self.rate * window_end + self.burst - attempt
            return max(self.dense_interval, (window_end - elapsed) / max(budget, 1.0))
        return steady


RetryPolicy.__module__ = PollPolicy.__module__ = "kodisc_jupyter.client"  # reported under the public module

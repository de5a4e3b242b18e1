"""PollPolicy and Retry-After parsing, checked as properties over many simulated jobs."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from kodisc_jupyter.client import PollPolicy
from kodisc_jupyter.client._policy import parse_retry_after


def poll_times(policy, finish, expected=None, horizon=300.0):
    """Times at which a job finishing at `finish` is polled (submission at 0, no poll at 0)."""
    t, attempt, times = 0.0, 0, []
    while t < horizon:
        t += policy.next_delay(t, "completed" if t >= finish else "running", attempt, expected)
        attempt += 1
        times.append(t)
        if t >= finish:
            break
    return times


@pytest.mark.parametrize("expected", [None, 3.0, 40.0])
def test_never_more_than_rate_times_elapsed_plus_burst(expected):
    policy = PollPolicy()
    rng = random.Random(5)
    for _ in range(300):
        finish = rng.uniform(0.1, 150)
        times = poll_times(policy, finish, expected)
        for count, at in enumerate(times, start=1):
            assert count <= policy.rate * at + policy.burst + 1e-9


def test_fast_start_catches_short_jobs():
    policy = PollPolicy()
    finish = policy.start_phase - 0.1
    times = poll_times(policy, finish)
    assert times[0] == pytest.approx(policy.start_interval) and times[-1] - finish <= policy.start_interval


def test_a_good_hint_detects_faster_than_none():
    rng = random.Random(11)
    policy = PollPolicy()
    hinted, blind = [], []
    for _ in range(400):
        finish = rng.uniform(5, 100)
        hinted.append(poll_times(policy, finish, expected=finish * rng.uniform(0.95, 1.05))[-1] - finish)
        blind.append(poll_times(policy, finish)[-1] - finish)
    assert sorted(hinted)[200] < sorted(blind)[200]


def test_polls_sparsely_well_before_the_expected_finish():
    times = poll_times(PollPolicy(), finish=60, expected=60)
    early = [t for t in times if 1 < t < 40]
    late = [t for t in times if 50 <= t <= 60]
    assert len(early) < 15 < len(late) + 15 and len(late) > len(early) / 39 * 10


@pytest.mark.parametrize("value, expected", [("0", 0.0), ("12", 12.0), (" 1.5 ", 1.5), ("-3", 0.0),
                                             (None, None), ("", None), ("soon", None), ("nan", None)])
def test_retry_after_seconds(value, expected):
    assert parse_retry_after(value) == expected


def test_retry_after_http_date():
    now = datetime(2026, 4, 28, 17, 0, tzinfo=timezone.utc)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now=now) == 0

"""How fast does wait() notice a finished job, and how many requests does it spend?

Simulates jobs on a virtual clock (no sleeping, no HTTP): each job waits in the queue
uniform(0, 0.5) s, then renders for a duration drawn log-uniformly from 2-120 s. A poller
asks "done yet?" at the times its policy chooses; detection latency is the time from the job's
completion to the first poll that sees it. Requests count the POST and every GET. Compared side by side:

* fixed 3 s polling (the docs' "poll every few seconds"),
* fixed 1 s polling (what 1 request/s buys without cleverness),
* the project's PollPolicy without a hint, and with a noisy `expected_seconds` hint
  (the true time to finish times a log-normal error: sigma 0.1, 0.2 and 0.4).

Prints a table; asserts nothing. Run: python benchmarks/polling.py [jobs] [seed]
"""
from __future__ import annotations

import math
import random
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass

from kodisc_jupyter.client._policy import PollPolicy

DelayFn = Callable[[float, str, int, "float | None"], float]


@dataclass
class SimJob:
    queued: float
    duration: float

    @property
    def finish(self) -> float:
        return self.queued + self.duration

    def status_at(self, t: float) -> str:
        if t >= self.finish:
            return "completed"
        return "running" if t >= self.queued else "queued"


def simulate(job: SimJob, next_delay: DelayFn, hint: float | None) -> tuple[float, int]:
    """(detection latency, requests sent) for one job, as Kodisc.render_and_wait() drives it:
    the POST answers `queued` at t=0, then each GET happens after the policy's delay."""
    t, polls, status = 0.0, 0, "queued"
    while status != "completed":
        t += next_delay(t, status, polls, hint)
        polls += 1
        status = job.status_at(t)
    return t - job.finish, 1 + polls


def fixed(interval: float) -> DelayFn:
    return lambda elapsed, status, attempt, hint: interval


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(math.ceil(q * len(ordered))) - 1)]


def main(count: int = 4000, seed: int = 7) -> None:
    rng = random.Random(seed)
    jobs = [SimJob(rng.uniform(0, 0.5), math.exp(rng.uniform(math.log(2), math.log(120)))) for _ in range(count)]
    noise = {sigma: [math.exp(rng.gauss(0, sigma)) for _ in jobs] for sigma in (0.1, 0.2, 0.4)}
    policy = PollPolicy()
    runs: list[tuple[str, DelayFn, Callable[[int, SimJob], float | None]]] = [
        ("fixed 3 s", fixed(3.0), lambda i, job: None),
        ("fixed 1 s", fixed(1.0), lambda i, job: None),
        ("PollPolicy, no hint", policy.next_delay, lambda i, job: None),
    ]
    for sigma, errors in noise.items():
        runs.append((f"PollPolicy, hint sigma {sigma}", policy.next_delay,
                     lambda i, job, errors=errors: job.finish * errors[i]))
    print(f"{count} jobs, render 2-120 s log-uniform, queue 0-0.5 s, seed {seed}; latency in seconds")
    header = f"{'policy':<28}{'p50':>7}{'p95':>7}{'req/job':>9}{'req/job-s':>11}{'max req/s':>11}{'<=0.25s':>9}"
    print(header)
    print("-" * len(header))
    for name, delay, hint_for in runs:
        latencies, requests, rates = [], [], []
        for i, job in enumerate(jobs):
            latency, sent = simulate(job, delay, hint_for(i, job))
            latencies.append(latency)
            requests.append(sent)
            rates.append(sent / (job.finish + latency))
        total_seconds = sum(job.finish + lat for job, lat in zip(jobs, latencies, strict=False))
        quick = sum(lat <= 0.25 for lat in latencies) / len(latencies)
        print(f"{name:<28}{percentile(latencies, 0.5):>7.2f}{percentile(latencies, 0.95):>7.2f}"
              f"{statistics.fmean(requests):>9.1f}{sum(requests) / total_seconds:>11.2f}{max(rates):>11.2f}"
              f"{quick:>9.0%}")
    print("req/job-s: all requests / all seconds from submission to detection; "
          "max req/s: the worst single job's average rate.")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))

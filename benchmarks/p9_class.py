"""P9: a class of 30 students, each running the 3 render cells of one lesson at once.

The 'Kodisc' is our own local server with the simulated renderer (each render takes JOB_SECONDS,
UPSTREAM_WORKERS at once), reached as Kodisc is (KODISC_BASE_URL, the teacher's key). Two set-ups:

- gateway: `--renderer kodisc` in front of it (upstream concurrency GATEWAY_CONCURRENCY); students
  are the gateway's users; identical renders are paid once for the class;
- independent: 90 students' worth of keys of their own on the same Kodisc, no gateway.

Each student is a thread with the project's client: POST the 3 cells, then wait for each. Measured:
POSTs that reached Kodisc, Kodisc credits spent, and each student's seconds to their first result
(p50 / p95), plus the seconds until the whole class had all three.
"""
from __future__ import annotations

import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from benchlib import print_table, workdir

STUDENTS = 30
JOB_SECONDS = 1.0
UPSTREAM_WORKERS = 4
GATEWAY_CONCURRENCY = 4
LESSON = """from manim import *

class Cell{n}(Scene):
    def construct(self):
        self.play(Create(Square().shift(RIGHT * {n})), run_time=1)
"""
PLAN = {"simulate": {"seconds": JOB_SECONDS}}


def run_class(base_url: str, keys: list[str]) -> tuple[list[float], float]:
    """Every student at once; their seconds to the first result, and until the last student's last one."""
    from kodisc_jupyter import Kodisc

    start = threading.Barrier(len(keys))

    def student(key: str) -> tuple[float, float]:
        with Kodisc(key, base_url=base_url) as client:
            start.wait()
            began = time.perf_counter()
            jobs = [client.render(LESSON.format(n=n), f"Cell{n}", quality="low", metadata=PLAN) for n in range(3)]
            firsts = client.wait(jobs[0], timeout=600)
            first = time.perf_counter() - began
            assert firsts.status == "completed", firsts.error
            for job in jobs[1:]:
                assert client.wait(job, timeout=600).status == "completed"
            return first, time.perf_counter() - began

    with ThreadPoolExecutor(len(keys)) as pool:
        results = list(pool.map(student, keys))
    return [first for first, _ in results], max(last for _, last in results)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    from kodisc_jupyter import Kodisc
    from kodisc_jupyter.server import start_local_server

    rows = []
    with workdir("p9") as folder:
        for setup in ("independent", "gateway"):
            with start_local_server(folder / f"{setup}-kodisc", renderer="simulate", workers=UPSTREAM_WORKERS,
                                    free_credits=0) as kodisc:
                if setup == "gateway":
                    os.environ.update(KODISC_API_KEY=kodisc.api_key, KODISC_BASE_URL=kodisc.base_url)
                    front = start_local_server(folder / "gateway", renderer="kodisc", free_credits=0,
                                               upstream_concurrency=GATEWAY_CONCURRENCY)
                    for name in ("KODISC_API_KEY", "KODISC_BASE_URL"):
                        del os.environ[name]
                    payers = [kodisc.api_key]
                else:
                    front = None
                    payers = []
                server = front or kodisc
                keys = [server.create_user(10_000).api_key for _ in range(STUDENTS)]
                payers = payers or keys
                before = sum(Kodisc(key, base_url=kodisc.base_url).me().credits.total for key in payers)
                firsts, everything = run_class(server.base_url, keys)
                spent = before - sum(Kodisc(key, base_url=kodisc.base_url).me().credits.total for key in payers)
                posts = kodisc.job_count()
                if front is not None:
                    front.stop()
            rows.append([setup, STUDENTS * 3, posts, spent, statistics.median(firsts), p95(firsts), everything])
    print_table(f"P9: {STUDENTS} students x 3 renders of one lesson ({JOB_SECONDS:g} s each on a Kodisc rendering "
                f"{UPSTREAM_WORKERS} at once; gateway upstream concurrency {GATEWAY_CONCURRENCY})",
                ["set-up", "renders asked", "POSTs to Kodisc", "Kodisc credits", "first result p50 s",
                 "first result p95 s", "whole class s"], rows)
    independent, gateway = rows
    print(f"gateway / independent: POSTs {gateway[2] / independent[2]:.3f}x, credits {gateway[3] / independent[3]:.3f}x, "
          f"first result p50 {gateway[4] / independent[4]:.2f}x, p95 {gateway[5] / independent[5]:.2f}x")


if __name__ == "__main__":
    main()

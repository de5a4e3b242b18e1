"""`workers` renders at once; the rest wait in submission order."""
from __future__ import annotations

import pytest

from kodisc_jupyter.server import start_local_server


def most_at_once(intervals: list[tuple[int, int]]) -> int:
    """The largest number of [start, end) intervals that overlap at one instant."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = most = 0
    for _, change in events:  # at equal times an end (-1) sorts before a start (+1)
        running += change
        most = max(most, running)
    return most


@pytest.mark.parametrize("workers", [1, 2])
def test_at_most_workers_jobs_run_and_the_rest_wait_in_order(tmp_path, make_user, workers):
    # Judged from the server's own start/finish times: sequential GETs of four jobs are not one
    # snapshot (a job can finish and the next start between two of them).
    with start_local_server(tmp_path / "server", renderer="simulate", workers=workers) as server:
        user = make_user(server)
        job_ids = [user.submit(metadata={"simulate": {"seconds": 0.4}}) for _ in range(4)]
        assert all(user.wait(job_id).status == "completed" for job_id in job_ids)
        records = [server._store.get_job(job_id) for job_id in job_ids]
    assert most_at_once([(job.started_ms, job.completed_ms) for job in records]) == workers
    started = [job.started_ms for job in records]
    assert started == sorted(started)  # FIFO

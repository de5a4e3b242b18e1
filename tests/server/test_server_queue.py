"""`workers` renders at once; the rest wait in submission order."""
from __future__ import annotations

import time

import pytest

from kodisc_jupyter.server import start_local_server


@pytest.mark.parametrize("workers", [1, 2])
def test_at_most_workers_jobs_run_and_the_rest_wait_in_order(tmp_path, make_user, workers):
    with start_local_server(tmp_path / "server", renderer="simulate", workers=workers) as server:
        user = make_user(server)
        job_ids = [user.submit(metadata={"simulate": {"seconds": 0.4}}) for _ in range(4)]
        most_running = 0
        while True:
            statuses = [user.job(job_id).status for job_id in job_ids]
            most_running = max(most_running, statuses.count("running"))
            first_waiting = statuses.index("queued") if "queued" in statuses else len(statuses)
            assert all(status == "queued" for status in statuses[first_waiting:]), statuses  # FIFO
            if all(status == "completed" for status in statuses):
                break
            time.sleep(0.02)
        assert most_running == workers
        finished = [user.job(job_id).completed_at for job_id in job_ids]
        if workers == 1:
            assert finished == sorted(finished)

"""Several kernels (processes) and a background thread write one history file at once."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

from kodisc_jupyter.client import Job
from kodisc_jupyter.rendering.history import History

ROWS = 200

# One "kernel": submits ROWS jobs and completes each, as the magic and its worker would.
WRITER = """
import sys
from datetime import datetime, timezone
from kodisc_jupyter.client import Job, RenderResult
from kodisc_jupyter.rendering.history import History

path, name, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
history = History(path)
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()  # start together
for i in range(rows):
    now = datetime.now(timezone.utc)
    job = Job(job_id=f"{name}-{i}", status="queued", created_at=now)
    history.record_submitted(job, backend="local", base_url="http://127.0.0.1:1", key_prefix="kdsc_live_abcd",
                             class_name="A", quality="low", aspect_ratio="16:9", fps=None, code=f"# {i}",
                             cache_key=f"{name}-{i}")
    history.record_update(Job(job_id=job.job_id, status="completed", created_at=now, completed_at=now,
                              duration_ms=10, credits_cost=1, result=RenderResult(video="https://cdn.test/v.mp4")))
assert history.enabled
"""


def test_two_processes_and_a_thread_lose_no_row(tmp_path):
    path = tmp_path / "history.sqlite3"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"proc{n}", str(ROWS)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(2)
    ]
    for writer in writers:
        assert writer.stdout.readline().strip() == "ready"

    history = History(path)
    thread_rows = 100
    thread_errors: list[BaseException] = []

    def background_worker() -> None:  # the kernel's --no-wait worker thread
        try:
            for i in range(thread_rows):
                now = datetime.now(timezone.utc)
                job = Job(job_id=f"thread-{i}", status="queued", created_at=now)
                history.record_submitted(job, backend="local", base_url="http://127.0.0.1:1", key_prefix=None,
                                         class_name="A", quality="low", aspect_ratio="16:9", fps=None,
                                         code="x", cache_key=None)
                history.record_update(Job(job_id=job.job_id, status="running", created_at=now))
        except BaseException as exc:  # pragma: no cover - reported below
            thread_errors.append(exc)

    thread = threading.Thread(target=background_worker)
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.flush()
    thread.start()
    reads = 0
    while thread.is_alive() or any(w.poll() is None for w in writers):  # the kernel thread reads meanwhile
        history.list(limit=5)
        reads += 1
        time.sleep(0.01)
    thread.join()

    for writer in writers:
        stdout, stderr = writer.communicate(timeout=60)
        assert writer.returncode == 0, stderr
        assert "busy" not in stderr and "Warning" not in stderr, stderr
    assert not thread_errors
    assert history.enabled and reads > 0
    assert history.count() == 2 * ROWS + thread_rows
    assert history.count("completed") == 2 * ROWS
    assert history.count("running") == thread_rows
    ids = {record.job_id for record in history.list(limit=10_000)}
    expected = {f"proc{n}-{i}" for n in range(2) for i in range(ROWS)} | {f"thread-{i}" for i in range(thread_rows)}
    assert ids == expected
    history.close()

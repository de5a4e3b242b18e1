"""History under concurrent writers: how long one write holds a cell up.

1, 2 and 4 writer processes (kernels) plus, in each, a background thread (the --no-wait worker)
write one history file at once. Each job is one `record_submitted` and one `record_update`, as a
render does. Reports per-write latency (p50 / p95 / max), rows written and rows found after.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import print_table

ROWS = 300
WRITER = r"""
import json, sys, threading, time
from datetime import datetime, timezone
from kodisc_jupyter.client import Job
from kodisc_jupyter.rendering.history import History

path, name, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
history = History(path)
latencies = []

def write(prefix, count):
    for i in range(count):
        now = datetime.now(timezone.utc)
        job = Job(job_id=f"{prefix}-{i}", status="queued", created_at=now)
        t = time.perf_counter()
        history.record_submitted(job, backend="local", base_url="local", key_prefix=None, class_name="A",
                                 quality="low", aspect_ratio="16:9", fps=None, code="x" * 2000, cache_key=None)
        latencies.append(time.perf_counter() - t)
        t = time.perf_counter()
        history.record_update(Job(job_id=job.job_id, status="completed", created_at=now, completed_at=now,
                                  duration_ms=1000, credits_cost=1))
        latencies.append(time.perf_counter() - t)

sys.stdin.readline()
worker = threading.Thread(target=write, args=(f"{name}-thread", rows // 3))
worker.start()
write(name, rows)
worker.join()
print(json.dumps(latencies))
"""


def run(writers: int) -> list[object]:
    with tempfile.TemporaryDirectory(prefix="kodisc-bench-history-") as folder:
        path = Path(folder) / "history.sqlite3"
        processes = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"p{n}", str(ROWS)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                     for n in range(writers)]
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        latencies = sorted(x for process in processes for x in json.loads(process.communicate()[0]))
        from kodisc_jupyter.rendering.history import History

        with History(path) as history:
            found = history.count()
    expected = writers * (ROWS + ROWS // 3)
    ms = lambda q: 1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    return [writers, len(latencies), f"{expected}/{found}", ms(0.5), ms(0.95), 1000 * latencies[-1]]


def main() -> None:
    rows = [run(writers) for writers in (1, 2, 4)]
    print_table("History writes with N kernels + a worker thread each (ms per write)",
                ["kernels", "writes", "rows expected/found", "p50 ms", "p95 ms", "max ms"], rows)


if __name__ == "__main__":
    main()

"""P7: pre-rendering a 12-scene course with `kodisc render NOTEBOOK ...`, `-j 1` vs the default.

Three notebooks of four `%%kodisc` cells each (3 s simulated jobs) against a local server with the
`simulate` renderer and WORKERS workers, reached as Kodisc is (KODISC_BASE_URL + key), so the
default `-j` is Kodisc's. Each run has its own KODISC_HOME (an empty cache). The command runs in
this process (`kodisc_jupyter.cli.main`) so every HTTP request the client sends can be counted.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import time
from collections import Counter

from benchlib import print_table, workdir

NOTEBOOKS, SCENES_PER_NOTEBOOK = 3, 4
JOB_SECONDS = 3
WORKERS = 12
CELL = """%%kodisc -ql --metadata '{{"simulate": {{"seconds": {seconds}}}}}'
from manim import *

class Lesson{n}Scene{i}(Scene):
    def construct(self):
        self.add(Dot())
"""


def write_course(folder) -> list[str]:
    names = []
    for n in range(NOTEBOOKS):
        cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                  "source": CELL.format(n=n, i=i, seconds=JOB_SECONDS)} for i in range(SCENES_PER_NOTEBOOK)]
        path = folder / f"lesson{n}.ipynb"
        path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}))
        names.append(str(path))
    return names


def counted_run(argv: list[str]) -> tuple[int, float, Counter]:
    """Run `kodisc` in-process, counting the client's requests by kind."""
    import httpx

    from kodisc_jupyter.cli.main import main

    requests: Counter = Counter()
    send = httpx.AsyncClient.send

    async def counting(self, request, **kwargs):
        path = request.url.path
        kind = "POST /render" if request.method == "POST" else "GET /render/{id}" if "/render/" in path else "downloads"
        requests[kind] += 1
        return await send(self, request, **kwargs)

    httpx.AsyncClient.send = counting  # type: ignore[method-assign]
    try:
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = main(argv)
        return code, time.perf_counter() - started, requests
    finally:
        httpx.AsyncClient.send = send  # type: ignore[method-assign]


def main() -> None:
    from kodisc_jupyter import start_local_server
    from kodisc_jupyter.cli.batch import KODISC_JOBS

    rows = []
    with workdir("p7") as tmp, start_local_server(tmp / "server", renderer="simulate", workers=WORKERS) as server:
        os.environ.update(KODISC_BASE_URL=server.base_url, KODISC_API_KEY=server.api_key)
        for label, extra in (("-j 1", ["-j", "1"]), (f"default (-j {KODISC_JOBS})", [])):
            folder = tmp / label.split()[0].strip("-(") / "course"
            folder.mkdir(parents=True)
            os.environ["KODISC_HOME"] = str(folder.parent / "home")
            before = server.job_count()
            code, wall, requests = counted_run(["render", *write_course(folder), *extra])
            rows.append([label, code, server.job_count() - before, wall, requests["POST /render"],
                         requests["GET /render/{id}"], requests["downloads"], sum(requests.values())])
    print_table(f"P7 pre-rendering {NOTEBOOKS * SCENES_PER_NOTEBOOK} scenes ({JOB_SECONDS} s simulated jobs, "
                f"{WORKERS} server workers)",
                ["run", "exit", "jobs", "wall s", "POSTs", "polls", "downloads", "requests"], rows)


if __name__ == "__main__":
    main()

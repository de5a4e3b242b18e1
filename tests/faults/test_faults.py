"""100 jobs through the client and through the magic while the local server misbehaves.

The server (simulate renderer, short jobs) answers 30 % of API requests with 500/502/503, drops
10 % of connections before handling them, and adds latency to every request. Whatever happens,
every job that exists must be shown finished, no job may be created twice (the server's own
count equals the jobs the user was told about), and a cell shows at most one short line, never
a raw traceback.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import random
import re
import tempfile
from pathlib import Path

import nbformat
import pytest
from traitlets.config import Config

from kodisc_jupyter import AsyncKodisc, start_local_server
from kodisc_jupyter.errors import APIConnectionError, ServerError

JOBS_BY_CLIENT = 70
BLOCKING_CELLS = 6
NO_WAIT_CELLS = 24
FAULTS = {"fault_5xx_rate": 0.3, "fault_drop_rate": 0.1, "fault_latency": (0.0, 0.25)}
SIMULATE = {"simulate": {"seconds": 0.3}}
SCENE = """from manim import *

class {name}(Scene):
    def construct(self):
        self.add(Dot())
"""
KEY_RE = re.compile(r"kdsc_live_[0-9a-f]{48}")
# The last cell waits until the history has no pending job, or none has ended for 5 s (a job whose
# wait gave up stays pending for ever), then a moment for the players to be put in place: nbclient
# records display updates only while a cell runs.
WAIT_FOR_BACKGROUND = """import time
from kodisc_jupyter.rendering.history import History
history = History()
pending = lambda: history.count("queued") + history.count("running")
last, changed, deadline = pending(), time.monotonic(), time.monotonic() + 60
while last and time.monotonic() - changed < 5 and time.monotonic() < deadline:
    time.sleep(0.2)
    if pending() != last:
        last, changed = pending(), time.monotonic()
time.sleep(1.5)
print("background jobs still pending:", pending())
"""


@pytest.fixture
def faulty_server(tmp_path):
    seed = random.randrange(2**32)
    with start_local_server(tmp_path / "server", renderer="simulate", workers=8, fault_seed=seed,
                            **FAULTS) as server:
        server.seed = seed
        yield server


async def _submit_and_wait(client: AsyncKodisc, index: int) -> dict:
    """One job, as a user would run it: what its POST and its wait gave."""
    try:
        job = await client.render(SCENE.format(name="Blink"), "Blink", quality="low",
                                  metadata={**SIMULATE, "index": index})
    except (APIConnectionError, ServerError) as error:
        return {"post_error": error}
    try:
        return {"job": await client.wait(job, timeout=90)}
    except Exception as error:  # the job exists, but the user is not shown how it ended
        return {"lost": job.job_id, "wait_error": error}


def test_jobs_through_the_client_survive_faults(faulty_server):
    async def run_all():
        async with AsyncKodisc(faulty_server.api_key, base_url=faulty_server.base_url) as client:
            return await asyncio.gather(*(_submit_and_wait(client, i) for i in range(JOBS_BY_CLIENT)))

    with concurrent.futures.ThreadPoolExecutor(1) as thread:  # a loop of its own, whatever runs here
        results = thread.submit(asyncio.run, run_all()).result()
    seed = f"(fault seed {faulty_server.seed})"
    lost = [result for result in results if "lost" in result]
    assert not lost, (f"{len(lost)} of {JOBS_BY_CLIENT} jobs exist but wait() gave up on them, e.g. "
                      f"{lost[0]['wait_error']!r} {seed}")
    finished = [result["job"] for result in results if "job" in result]
    refused = [result["post_error"] for result in results if "post_error" in result]
    assert all(job.status == "completed" for job in finished), seed
    assert len({job.job_id for job in finished}) == len(finished), f"a job id was returned twice {seed}"
    assert faulty_server.job_count() == len(finished), \
        f"server made {faulty_server.job_count()} jobs, the client knows {len(finished)} {seed}"
    for error in refused:  # an ambiguous POST failure must say that a job may exist
        if isinstance(error, APIConnectionError):
            assert "may" in str(error).lower(), f"an ambiguous POST failure must say a job may exist: {error}"
    assert len(refused) < JOBS_BY_CLIENT / 2, f"retries did not absorb the faults: {refused[:3]} {seed}"


def _notebook() -> nbformat.NotebookNode:
    cells = ["%load_ext kodisc_jupyter"]
    simulate = json.dumps(SIMULATE)
    for i in range(BLOCKING_CELLS):
        cells.append(f"%%kodisc Wait{i} -ql --metadata '{simulate}'\n" + SCENE.format(name=f"Wait{i}"))
    for i in range(NO_WAIT_CELLS):
        cells.append(f"%%kodisc Later{i} -ql --no-wait --metadata '{simulate}'\n" + SCENE.format(name=f"Later{i}"))
    cells.append(WAIT_FOR_BACKGROUND)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    return notebook


def _execute(notebook, env: dict[str, str], cwd: Path) -> None:
    from nbclient import NotebookClient

    quiet = logging.getLogger("tests.faults.nbclient")
    quiet.setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as sockets:
        config = Config(KernelManager={"transport": "ipc", "ip": str(Path(sockets) / "kernel")})
        NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True, log=quiet, config=config,
                       resources={"metadata": {"path": str(cwd)}}).execute(env=env)


def _said(cell) -> str:
    """What a cell without a player told the user (its error line, or its error block's text)."""
    lines = [line for output in cell.outputs if output.output_type == "error" for line in output.traceback]
    lines += [output.get("data", {}).get("text/plain", "") for output in cell.outputs
              if "kodisc-error" in output.get("data", {}).get("text/html", "")]
    return " | ".join(lines)[:160]


def _final_html(cell) -> str:
    return "".join(output.get("data", {}).get("text/html", "") for output in cell.outputs)


@pytest.mark.kernel
def test_jobs_through_the_magic_survive_faults(faulty_server, tmp_path, isolated_kodisc_env):
    env = {k: v for k, v in os.environ.items() if k not in ("KODISC_KEY",)}
    env.update(KODISC_HOME=str(isolated_kodisc_env), KODISC_BASE_URL=faulty_server.base_url,
               KODISC_API_KEY=faulty_server.api_key)
    notebook = _notebook()
    _execute(notebook, env, tmp_path)
    seed = f"(fault seed {faulty_server.seed})"

    shown, refused = [], []
    for cell in notebook.cells[1:-1]:
        errors = [output for output in cell.outputs if output.output_type == "error"]
        html = _final_html(cell)
        text = json.dumps(cell.outputs)
        assert "Traceback (most recent call last)" not in text, f"raw traceback in {cell.source[:30]!r}"
        assert "kodisc-status-snapshot" not in html, f"a status bar was left in {cell.source[:30]!r} {seed}"
        for error in errors:
            assert len(error.traceback) == 1 and error.traceback[0].startswith("Kodisc") \
                and "\n" not in error.traceback[0], \
                f"not one short line: {error.traceback}"
        if "<video" in html:
            shown.append(cell)
        else:
            assert errors or "kodisc-error" in html, f"{cell.source[:30]!r} shows neither a player nor an error"
            refused.append(cell)
    said = [_said(cell) for cell in refused]
    assert faulty_server.job_count() == len(shown), \
        f"server made {faulty_server.job_count()} jobs, the notebook shows {len(shown)}; refused cells said {said} {seed}"
    waited = "".join(output.get("text", "") for output in notebook.cells[-1].outputs)
    assert "background jobs still pending: 0" in waited, f"{notebook.cells[-1].outputs} {seed}"
    assert len(refused) < (BLOCKING_CELLS + NO_WAIT_CELLS) / 2, f"retries did not absorb the faults {seed}"
    assert not KEY_RE.search(nbformat.writes(notebook)), "the API key was written into the notebook"

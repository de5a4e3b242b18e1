"""A worker started before its server (one-shot `kodisc render`'s head start) is adopted or ended, never leaked.

A worker that rendered a job exits 0; one ended unused is killed (-9): that is how these tests
tell adoption from waste, on real processes.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from server_helpers import User, workers_of

from kodisc_jupyter._paths import data_dir
from kodisc_jupyter.cli.head_start import head_start
from kodisc_jupyter.rendering import session
from kodisc_jupyter.server import start_local_server
from kodisc_jupyter.server._process import PRESTARTED_PREFIX, RenderProcess, discard, prestart, renders_dir
from kodisc_jupyter.server._sandbox import bwrap_problem

needs_bwrap = pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}")


def prestarted_folders(server_dir: Path) -> list[Path]:
    return sorted(renders_dir(server_dir.resolve(), create=False).glob(PRESTARTED_PREFIX + "*"))


def ended_unused(worker: RenderProcess) -> bool:
    return worker.returncode == -signal.SIGKILL and not worker.folder.exists()


@needs_bwrap
@pytest.mark.render
def test_the_server_renders_its_first_job_with_the_prestarted_worker(tmp_path):
    worker = prestart(tmp_path / "server")
    assert worker is not None and prestarted_folders(tmp_path / "server") == [worker.folder]
    with start_local_server(tmp_path / "server", prestarted=worker, workers=1) as server:
        user = User(server)
        job = user.wait(user.submit(), timeout=120)
        user.close()
        assert job.status == "completed", job.error
        assert worker.returncode == 0  # it took the job (it moved into the job's folder, since removed)
    assert prestarted_folders(tmp_path / "server") == []


@needs_bwrap
@pytest.mark.parametrize("options", [{"memory_limit": 2 * 1024**3}, {"renderer": "simulate"}, {"warm": 0}],
                         ids=["other-limits", "simulated", "no-warm-workers"])
def test_a_prestarted_worker_the_server_would_not_have_started_is_ended(tmp_path, options):
    worker = prestart(tmp_path / "server")
    assert worker is not None
    with start_local_server(tmp_path / "server", prestarted=worker, **options):
        assert ended_unused(worker)


@needs_bwrap
def test_a_prestarted_worker_is_ended_when_its_server_cannot_start(tmp_path):
    worker = prestart(tmp_path / "server")
    assert worker is not None
    with pytest.raises(ValueError, match="port"):
        start_local_server(tmp_path / "server", prestarted=worker, port=70000)
    assert ended_unused(worker)


@needs_bwrap
def test_the_session_ends_a_worker_no_server_adopted(tmp_path):
    own = session.Session()
    own.prestart_local_server()
    worker = own._prestarted
    assert worker is not None and worker.returncode is None
    own.close()  # e.g. the render was cached: no server ever started
    assert ended_unused(worker)


def test_a_starting_server_removes_stale_folders_but_not_a_young_prestarted_one(tmp_path):
    renders = renders_dir((tmp_path / "server").resolve())
    young, old, dead = (renders / f"{PRESTARTED_PREFIX}young", renders / f"{PRESTARTED_PREFIX}old",
                        renders / "0123456789ab")
    for folder in (young, old, dead):
        folder.mkdir(parents=True)
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    with start_local_server(tmp_path / "server", renderer="simulate"):
        assert young.is_dir()  # another command's head start, about to be adopted by its own server
        assert not old.exists() and not dead.exists()
    discard(young)  # the temp dir is shared: leave nothing behind


@needs_bwrap
@pytest.mark.parametrize(("argv", "environment", "kept"), [
    (["render", "scene.py", "Hello", "-ql"], {}, True),
    (["render", "scene.py", "--backend", "local"], {}, True),
    (["render", "scene.py", "--backend=local"], {}, True),
    (["render", "scene.py"], {"KODISC_API_KEY": "kdsc_live_" + "ab" * 24}, False),  # it goes to Kodisc: ended
    (["render", "scene.py", "--backend", "cloud"], {}, False),
    (["render", "scene.py", "--no-wait"], {}, False),
    (["render", "course.ipynb"], {}, False),
    (["jobs"], {}, False),
])
def test_head_start_prestarts_only_for_a_one_shot_local_render(argv, environment, kept, monkeypatch):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    try:
        head_start(argv)
        folders = prestarted_folders(data_dir() / "server")
        assert len(folders) == (1 if kept else 0)
    finally:
        session.close_current()
    assert prestarted_folders(data_dir() / "server") == []


@needs_bwrap
@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")  # uvicorn's shutdown goes on cleanly
def test_stop_without_waiting_ends_workers_and_store_at_once(tmp_path):
    server = start_local_server(tmp_path / "server", renderer="manim", warm=1)
    assert len(workers_of(server)) == 1
    server.stop(wait=False)  # what a command does just before it exits
    assert workers_of(server) == set()
    assert not renders_dir(server.data_dir, create=False).exists()
    with start_local_server(tmp_path / "server", renderer="simulate") as again:  # its lock and store were let go
        user = User(again)
        assert user.wait(user.submit(), timeout=30).status == "completed"
        user.close()


@needs_bwrap
def test_a_head_start_that_cannot_start_is_only_a_lost_head_start(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "not-a-folder"))  # nowhere to make its folder
    (tmp_path / "not-a-folder").write_text("")
    try:
        head_start(["render", "scene.py"])  # raises nothing: the command goes on and renders without it
        assert session.current()._prestarted is None
    finally:
        session.close_current()

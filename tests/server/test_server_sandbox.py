"""Hostile scenes against the real local server: every attack achieves nothing, the server keeps answering.

The attacking scene collects what each attempt got into a subcaption, so the same (completed)
job also proves an ordinary render still works sandboxed: video, poster and captions.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import sqlite3
import stat
import sys
import time
from pathlib import Path

import av
import httpx
import pytest
from PIL import Image
from server_helpers import Serve, User, workers_of

from kodisc_jupyter.server import _process, start_local_server
from kodisc_jupyter.server._sandbox import bwrap_problem

pytestmark = [pytest.mark.render,
              pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}")]

SECRET_VARIABLE = "I9_SANDBOX_TEST_SECRET"

ATTACKS = """\
from manim import *
import json, os, socket, sys

DATA, PORT, SERVER_PID, OUTSIDE = {data!r}, {port!r}, {server_pid!r}, {outside!r}

def attempt(action):
    try:
        return repr(action())[:80]
    except BaseException as exc:
        return "refused: " + type(exc).__name__

def every_environ():
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                found.append(open(f"/proc/{{pid}}/environ", "rb").read().decode(errors="replace"))
            except OSError:
                pass
    return found

class Hostile(Scene):
    def construct(self):
        got = {{
            "owner": attempt(lambda: open(DATA + "/owner.json").read()),
            "owner_relative": attempt(lambda: open("../" * 12 + DATA.lstrip("/") + "/owner.json").read()),
            "database": attempt(lambda: open(DATA + "/server.sqlite3", "r+b").write(b"x")),
            "parent_environ": attempt(lambda: sorted({{entry.split(b"=")[0].decode() for entry in
                                                        open(f"/proc/{{os.getppid()}}/environ", "rb").read().split(b"\\0")
                                                        if entry}} - set(os.environ))),
            "secret_seen": any({secret!r} in text for text in [str(os.environ), *every_environ()]),
            "write_outside": attempt(lambda: open(OUTSIDE, "w").write("escaped")),
            "write_system": attempt(lambda: open(sys.prefix + "/planted.txt", "w").write("escaped")),
            "connect": attempt(lambda: socket.create_connection(("127.0.0.1", PORT), timeout=2)),
            "kill_parent": attempt(lambda: os.kill(os.getppid(), 9)),
            "kill_server": attempt(lambda: os.kill(SERVER_PID, 9)),
            "home": attempt(lambda: os.listdir(os.path.expanduser("~root"))),
            "environment": sorted(os.environ),
        }}
        self.play(Create(Circle(color=YELLOW)), run_time=0.5, subcaption=json.dumps(got))
"""

DETACHED = """\
from manim import *
import subprocess, sys, time

class Lingering(Scene):
    def construct(self):
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", {token!r}],
                         start_new_session=True)
        time.sleep(120)
"""

PLANTED_LINK = """\
from manim import *
import os, sys

worker = sys.modules["__main__"]  # the scene runs inside the render worker and can patch it
make_poster = worker.write_last_frame

def poster_then_link(video, jpeg):
    make_poster(video, jpeg)
    os.remove("captions.vtt")
    os.symlink({owner!r}, "captions.vtt")

worker.write_last_frame = poster_then_link

class Linker(Scene):
    def construct(self):
        self.wait(0.2)
"""


FAKE_KEY = "kdsc_live_" + "ab" * 24
QUOTING = """\
from manim import *

class Quoting(Scene):
    def construct(self):
        raise ValueError("my key is {key}")
"""


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """A sandboxed server (default options) after the three hostile scenes ran on it at once."""
    root = tmp_path_factory.mktemp("sandbox")
    secret = secrets.token_hex(16)
    os.environ[SECRET_VARIABLE] = secret  # in the server's environment, as a real secret would be
    try:
        with start_local_server(root / "server", renderer="manim", workers=3, render_timeout=12) as server:
            user = User(server, server.create_user(credits=100).api_key)  # a `keys create` user
            token = f"kodisc-detached-{secrets.token_hex(8)}"
            hostile = ATTACKS.format(data=str(server.data_dir), port=int(server.public_url.rsplit(":", 1)[1]),
                                     server_pid=os.getpid(), outside=str(root / "escaped.txt"), secret=secret)
            ids = {"hostile": user.submit(hostile, "Hostile"),
                   "detached": user.submit(DETACHED.format(token=token), "Lingering"),
                   "link": user.submit(PLANTED_LINK.format(owner=str(server.data_dir / "owner.json")), "Linker"),
                   "quoting": user.submit(QUOTING.format(key=FAKE_KEY), "Quoting")}
            jobs = {name: user.wait(job_id, timeout=120) for name, job_id in ids.items()}
            answered = user.kodisc.me()  # the server is still there
            yield {"server": server, "user": user, "jobs": jobs, "root": root, "token": token,
                   "answered": answered, "secret": secret}
            user.close()
    finally:
        del os.environ[SECRET_VARIABLE]


def test_a_hostile_scene_gets_nothing_and_still_renders(attacked):
    job = attacked["jobs"]["hostile"]
    assert job.status == "completed", job.error
    captions = httpx.get(job.result.captions).text
    got = json.loads(re.search(r"\n(\{.*\})\n", captions).group(1))
    for attack in ("owner", "owner_relative", "database", "write_outside", "write_system",
                   "connect", "kill_server", "home"):
        assert got[attack].startswith("refused"), (attack, got[attack])
    assert got["kill_parent"] == "None"  # bwrap's init inside the sandbox: the signal is dropped
    assert got["secret_seen"] is False  # in no environment the scene can read, its parent's included
    assert got["parent_environ"] == "[]"  # bwrap's init holds nothing the render's own allowlist does not
    assert SECRET_VARIABLE not in got["environment"] and not any(n.startswith("KODISC") for n in got["environment"])
    assert not (attacked["root"] / "escaped.txt").exists()
    with av.open(io.BytesIO(httpx.get(job.result.video).content)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    poster = Image.open(io.BytesIO(httpx.get(job.result.thumbnail).content))
    assert poster.format == "JPEG" and poster.convert("L").getextrema()[1] > 100


def test_the_server_outlives_the_attacks(attacked):
    assert attacked["answered"].credits.total > 0
    assert attacked["server"].job_count() == 4


def test_a_timed_out_render_leaves_no_detached_process(attacked):
    job = attacked["jobs"]["detached"]
    assert job.status == "failed" and "longer than 12 s" in job.error
    survivors = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and attacked["token"].encode() in (entry / "cmdline").read_bytes():
                survivors.append(entry.name)
        except OSError:
            continue
    assert survivors == []


def test_a_link_planted_as_an_output_is_never_served(attacked):
    job = attacked["jobs"]["link"]
    assert job.status == "failed" and "captions.vtt is not a regular file" in job.error
    server = attacked["server"]
    answer = httpx.get(f"{server.public_url}/r/{job.job_id}/captions.vtt")
    assert answer.status_code == 404 and "kdsc_live_" not in answer.text


def test_asset_routes_never_follow_a_link_in_a_job_folder(attacked):
    """Even a link that got into a finished job's folder (by any route) is a 404, not the file it names."""
    server, job = attacked["server"], attacked["jobs"]["hostile"]
    captions = server.data_dir / "jobs" / job.job_id / "captions.vtt"
    captions.unlink()
    captions.symlink_to(server.data_dir / "owner.json")
    answer = httpx.get(f"{server.public_url}/r/{job.job_id}/captions.vtt")
    assert answer.status_code == 404 and attacked["server"].api_key not in answer.text
    assert httpx.get(job.result.video, headers={"Range": "bytes=0-9"}).status_code == 206  # real files still serve


def test_stored_errors_are_redacted_and_files_are_private(attacked):
    server = attacked["server"]
    assert stat.S_IMODE(server.data_dir.stat().st_mode) == 0o700
    for name in ("server.sqlite3", "owner.json"):
        assert stat.S_IMODE((server.data_dir / name).stat().st_mode) == 0o600, name
    job = attacked["jobs"]["quoting"]
    assert job.status == "failed" and "kdsc_live_abab…" in job.error
    with contextlib.closing(sqlite3.connect(server.data_dir / "server.sqlite3")) as db:
        (stored,) = db.execute("SELECT error FROM jobs WHERE id = ?", (job.job_id,)).fetchone()
    assert "kdsc_live_abab…" in stored and FAKE_KEY not in stored


def test_without_bwrap_only_the_first_user_renders(tmp_path, monkeypatch):
    monkeypatch.setattr(_process, "bwrap_problem", lambda: "bwrap is not installed")
    with start_local_server(tmp_path / "server", renderer="manim", workers=1) as server:
        assert server.sandbox_problem == "bwrap is not installed"
        stranger = User(server, server.create_user(credits=100).api_key)
        refused = stranger.wait(stranger.submit(), timeout=60)
        stranger.close()
        owner = User(server)
        own = owner.wait(owner.submit(), timeout=120)
        owner.close()
    assert refused.status == "failed" and "--no-sandbox" in refused.error
    assert own.status == "completed", own.error


def test_a_warm_worker_renders_one_job_and_is_replaced(tmp_path):
    with start_local_server(tmp_path / "server", renderer="manim", workers=1, warm=1) as server:
        user = User(server)
        waiting = workers_of(server)
        assert len(waiting) == 1  # started with the server, importing Manim before any job
        job = user.wait(user.submit(), timeout=120)
        assert job.status == "completed", job.error
        deadline = time.monotonic() + 10
        while (replacement := workers_of(server)) == set() and time.monotonic() < deadline:
            time.sleep(0.05)  # the replacement starts once the render ended
        user.close()
    assert len(replacement) == 1 and replacement.isdisjoint(waiting)  # single use: a new one waits
    assert workers_of(server) == set()  # stopping the server ends the waiting worker


def test_a_checkout_or_venv_under_tmp_stays_visible_over_the_empty_tmp():
    """CI may clone (and make its venv) under /tmp: the sandbox's empty /tmp must come before those binds."""
    from kodisc_jupyter.server._sandbox import sandboxed

    command = sandboxed(["python", "-c", "pass"], Path("/tmp/job-folder"), {}, hidden=[])
    tmpfs = command.index("/tmp", command.index("--tmpfs"))
    binds = [i for i, arg in enumerate(command) if arg == "--ro-bind"]
    assert binds and all(i > tmpfs for i in binds)


def test_a_server_started_through_a_dotdot_path_renders(tmp_path):
    """`cd benchmarks && ../.venv/bin/python -m kodisc_jupyter serve`: Python keeps that `..` in sys.executable,
    and bwrap cannot exec a path through a folder the sandbox does not bind (it failed every render)."""
    beside = tmp_path / "beside"  # outside the sandbox's binds, as benchmarks/ is
    beside.mkdir()
    relative = os.path.relpath(sys.executable, beside)
    assert relative.startswith("..")
    serve = Serve(tmp_path / "data", python=relative, cwd=beside)
    user = User(serve)
    try:
        job = user.wait(user.submit(), timeout=120)
    finally:
        user.close()
        serve.stop()
    assert job.status == "completed", job.error

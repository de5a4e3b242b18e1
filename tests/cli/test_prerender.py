"""`kodisc render NOTEBOOK.ipynb ...` as a subprocess against the simulated local server; executing the
notebooks afterwards on a real kernel (nbclient) must find every render cached."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kodisc_jupyter.cli.exit_codes import EXIT_BAD_INPUT, EXIT_OK, EXIT_RENDER_FAILED

REPO = Path(__file__).resolve().parents[2]
SIM = "--metadata '{\"simulate\": {\"seconds\": 0.3}}'"


def scene(name: str, header: str = "") -> str:
    return f"{header}class {name}(Scene):\n    def construct(self):\n        self.add(Circle(radius=R))\n"


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    """An nbformat-4 notebook from (cell_type, source) pairs, written as plain JSON."""
    notebook = {"nbformat": 4, "nbformat_minor": 5,
                "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
                "cells": [{"cell_type": kind, "metadata": {}, "source": source, "id": f"c{i}",
                           **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                          for i, (kind, source) in enumerate(cells)]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook))
    return path


def kodisc(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kodisc_jupyter", "render", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=180, env=env)


@pytest.fixture
def course(tmp_path, sim_server):
    """Two lessons whose cells depend on a prelude, %config lines, [tool.kodisc] and their own options."""
    root = tmp_path / "course"
    (root / "lessons").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.kodisc]\naspect = "9:16"\nquality = "high"\n')
    one = write_notebook(root / "lessons" / "one.ipynb", [
        ("markdown", "# Lesson one\n%%kodisc in markdown is not a cell magic"),
        ("code", "%load_ext kodisc_jupyter"),
        ("code", "%config Kodisc.quality = 'low'\nx = 1"),
        ("code", "\n  %%kodisc_prelude\n  from manim import *\n  R = 1.5"),  # IPython drops blank lines and the indent
        ("code", f"%%kodisc {SIM}\n{scene('Circles')}".rstrip()),  # IPython adds the final newline
        ("code", f"%%kodisc --aspect 16:9 --fps 12 {SIM}\n{scene('Wide')}"),
    ])
    two = write_notebook(root / "lessons" / "two.ipynb", [
        ("code", "%load_ext kodisc_jupyter"),
        ("code", f"%%kodisc -qm {SIM}\n" + scene("Squares", "from manim import *\nR = 2\n")),
        ("code", "import numpy as np\nfrom manim import *"),  # Manim's docs: the import in a cell of its own
        # sent with that import, by the batch as by the magic
        ("code", f"%%kodisc {SIM}\nclass Stars(Scene):\n    def construct(self):\n        self.add(Star())"),
    ])
    env = {**os.environ, "KODISC_API_KEY": sim_server.api_key, "KODISC_BASE_URL": sim_server.base_url,
           "PYTHONPATH": str(REPO), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return root, [one, two], env


def execute(notebook: Path, env: dict[str, str]) -> dict:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}
                   ).execute(env=env)
    return nb


@pytest.mark.kernel
def test_a_course_prerendered_in_one_batch_executes_with_no_new_job(course, sim_server):
    root, notebooks, env = course
    before = sim_server.job_count()
    result = kodisc("lessons/one.ipynb", "lessons/two.ipynb", cwd=root, env=env)
    assert result.returncode == EXIT_OK, result.stderr
    assert sim_server.job_count() - before == 4
    rows = [line.split() for line in result.stdout.splitlines()[1:5]]
    assert [(row[0], row[1], row[2], row[3]) for row in rows] == [
        ("lessons/one.ipynb", "5", "Circles", "rendered"), ("lessons/one.ipynb", "6", "Wide", "rendered"),
        ("lessons/two.ipynb", "2", "Squares", "rendered"), ("lessons/two.ipynb", "4", "Stars", "rendered")]
    assert re.search(r"^4 rendered, 0 cached, 0 failed · [\d.]+ credits · [\d.]+ s with -j 8$", result.stdout, re.M)

    again = kodisc("lessons/one.ipynb", "lessons/two.ipynb", cwd=root, env=env)
    assert again.returncode == EXIT_OK and "0 rendered, 4 cached, 0 failed · 0 credits" in again.stdout
    assert sim_server.job_count() - before == 4

    for notebook in notebooks:
        executed = execute(notebook, env)
        players = [o["data"]["text/html"] for cell in executed.cells for o in cell.get("outputs", [])
                   if "kodisc-video" in o.get("data", {}).get("text/html", "")]
        assert players and all('src="kodisc_media/' in html for html in players)
    assert sim_server.job_count() - before == 4  # the executions found every render cached


def test_failures_name_notebook_and_cell_and_the_rest_still_renders(tmp_path, sim_server):
    fail = "--metadata '{\"simulate\": {\"seconds\": 0.2, \"fail\": \"ValueError: boom\"}}'"
    write_notebook(tmp_path / "bad.ipynb", [
        ("code", "%%kodisc_prelude\nfrom manim import *\nR = 1"),
        ("code", f"%%kodisc {fail}\n{scene('Fails')}"),
        ("code", f"%%kodisc --fps zero\n{scene('BadOption')}"),
        ("code", f"%%kodisc {SIM}\n{scene('Fine')}"),
        ("code", f"%%kodisc {SIM}\n{scene('Fine')}"),  # the same request: rendered once
    ])
    env = {**os.environ, "KODISC_API_KEY": sim_server.api_key, "KODISC_BASE_URL": sim_server.base_url}
    before = sim_server.job_count()
    result = kodisc("bad.ipynb", "-j", "2", cwd=tmp_path, env=env)
    assert result.returncode == EXIT_RENDER_FAILED
    assert sim_server.job_count() - before == 2
    failures = [line for line in result.stderr.splitlines() if line.startswith("kodisc: ")]
    assert failures[0].startswith("kodisc: bad.ipynb cell 2 (Fails): render failed (job ")
    assert failures[0].endswith("ValueError: boom")
    assert failures[1] == ("kodisc: bad.ipynb cell 3: argument --fps/--frame_rate: expected a whole number, got 'zero' "
                           "(options: %%kodisc?)")
    assert len(failures) == 2 and "Traceback" not in result.stderr
    assert re.search(r"^bad\.ipynb\s+5\s+Fine\s+same as cell 4\s+0\s", result.stdout, re.M)


def test_dry_run_lists_what_would_render_and_its_cost_and_sends_nothing(tmp_path, sim_server):
    env = {**os.environ, "KODISC_API_KEY": sim_server.api_key, "KODISC_BASE_URL": sim_server.base_url}
    header = "from manim import *\nR = 1\n"
    write_notebook(tmp_path / "a.ipynb", [("code", f"%%kodisc -ql {SIM}\n{scene('Dots', header)}")])
    assert kodisc("a.ipynb", cwd=tmp_path, env=env).returncode == EXIT_OK
    write_notebook(tmp_path / "a.ipynb", [("code", f"%%kodisc -ql {SIM}\n{scene('Dots', header)}"),
                                          ("code", f"%%kodisc -ql {SIM}\n" + scene("Dots", header + "# edited\n"))])
    before = sim_server.job_count()
    result = kodisc("a.ipynb", "--dry-run", cwd=tmp_path, env=env)
    assert result.returncode == EXIT_OK, result.stderr
    assert sim_server.job_count() == before
    cached, planned = result.stdout.splitlines()[1:3]
    assert cached.split()[:5] == ["a.ipynb", "1", "Dots", "cached", "0"]
    credits = float(planned.split()[-2])  # the cost of the earlier render of Dots at this quality
    assert planned.split()[:5] == ["a.ipynb", "2", "Dots", "would", "render"] and credits > 0
    assert f"1 of 2 cells would render (about {credits:g} credits); nothing was sent." in result.stdout

    forced = kodisc("a.ipynb", "--dry-run", "--force", cwd=tmp_path, env=env)
    assert "2 of 2 cells would render" in forced.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["a.ipynb", "-ql"], "kodisc: -q applies to a .py file; a notebook's cells render with their own options"),
    (["scene.py", "-j", "2"], "kodisc: -j applies to notebooks; a .py file renders one scene"),
    (["scene.py", "a.ipynb"], "kodisc: give one FILE.py [ClassName], or only notebooks (NOTEBOOK.ipynb ...)"),
    (["broken.ipynb"], "kodisc: broken.ipynb is not a Jupyter notebook (nbformat 4 JSON with a 'cells' list)"),
    (["config.ipynb"], "kodisc: config.ipynb cell 1: %config Kodisc.quality = q: only a literal value"),
    (["missing.ipynb"], "kodisc: cannot read missing.ipynb: No such file or directory"),
])
def test_bad_input_is_one_line_and_sends_nothing(tmp_path, sim_server, args, message):
    write_notebook(tmp_path / "a.ipynb", [("code", f"%%kodisc\n{scene('A')}")])
    write_notebook(tmp_path / "config.ipynb", [("code", "%config Kodisc.quality = q")])
    (tmp_path / "broken.ipynb").write_text("{not json")
    (tmp_path / "scene.py").write_text("from manim import *\nclass A(Scene):\n    pass\n")
    env = {**os.environ, "KODISC_API_KEY": sim_server.api_key, "KODISC_BASE_URL": sim_server.base_url}
    before = sim_server.job_count()
    result = kodisc(*args, cwd=tmp_path, env=env)
    assert result.returncode == EXIT_BAD_INPUT
    assert result.stderr.strip().startswith(message) and len(result.stderr.strip().splitlines()) == 1
    assert sim_server.job_count() == before


def test_a_batch_interrupted_while_waiting_picks_its_jobs_up_instead_of_paying_twice(tmp_path, sim_server):
    import signal
    import time

    slow = "--metadata '{\"simulate\": {\"seconds\": 4}}'"
    write_notebook(tmp_path / "slow.ipynb", [("code", f"%%kodisc {slow}\n" + scene("Slow", "from manim import *\nR = 1\n"))])
    env = {**os.environ, "KODISC_API_KEY": sim_server.api_key, "KODISC_BASE_URL": sim_server.base_url}
    before = sim_server.job_count()
    first = subprocess.Popen([sys.executable, "-m", "kodisc_jupyter", "render", "slow.ipynb"], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    from kodisc_jupyter.rendering.pipeline import history  # the same KODISC_HOME as the command's

    deadline = time.monotonic() + 60
    while history().count("queued") + history().count("running") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # the job is submitted and recorded: now interrupt the wait
    first.send_signal(signal.SIGINT)
    first.communicate(timeout=30)
    assert sim_server.job_count() - before == 1

    again = kodisc("slow.ipynb", cwd=tmp_path, env=env)
    assert again.returncode == EXIT_OK, again.stderr
    assert sim_server.job_count() - before == 1
    assert re.search(r"slow\.ipynb cell 1: Slow rendered \(picked up job \S+\)", again.stderr)

"""The player where a reader meets it later (issue 4 "The player", contexts b, c and d).

One `make demo` run (scripts/demo.py: the quickstart executed by nbclient in a build folder, then
exported with nbconvert) provides the saved notebook and its HTML. (b) the saved notebook reopened
in JupyterLab without running: its outputs come from elsewhere, so Lab does not trust them;
(c) the HTML opened from file:// with every non-file request aborted; (d) nothing saved depends on
the server that rendered it, embedded (here) or remote (the last test; the embedded server's
kernel-shutdown case is in test_quickstart_lab.py).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import uuid

import nbformat
import pytest
from lab_driver import REPO, kernel_env, make_notebook, open_notebook
from players import Scene, assert_players, assert_portable, assert_videos_play, scenes_of, wait_for_players

from kodisc_jupyter import start_local_server

pytestmark = pytest.mark.e2e

QUICKSTART = REPO / "notebooks" / "quickstart.ipynb"
DEMO_TIMEOUT_S = 240
REMOTE_SCENE = """%%kodisc Remote -ql --metadata '{"simulate": {"seconds": 0.5}}'
from manim import *


class Remote(Scene):
    def construct(self):
        self.add(Dot())
"""


@pytest.fixture(scope="module")
def demo_build(e2e_tmp):
    """scripts/demo.py run as `make demo` runs it, into a temporary build folder, with no key."""
    build, home = e2e_tmp / "demo-build", e2e_tmp / "demo-home"
    home.mkdir()
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "demo.py"), "--build-dir", str(build)],
                          env=kernel_env(e2e_tmp / "tmp", home), capture_output=True, text=True,
                          timeout=DEMO_TIMEOUT_S)
    assert done.returncode == 0, f"scripts/demo.py failed:\n{done.stdout}\n{done.stderr}"
    html = build / "quickstart.html"
    assert html.as_uri() in done.stdout, f"the demo does not say where the HTML is:\n{done.stdout}"
    return build


def test_demo_saves_the_final_players(demo_build):
    executed = demo_build / "quickstart.ipynb"
    notebook = nbformat.read(executed, as_version=4)
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"], "a quickstart cell failed"
    saved_html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "kodisc-status-snapshot" not in saved_html, "a status bar, not the final player, was saved"
    for scene in scenes_of(executed):
        assert f'aria-label="{scene.class_name}"' in saved_html, f"no player saved for {scene.class_name}"


def test_d_saved_notebook_never_names_the_embedded_server(demo_build):
    """Context (d) for the nbclient-run notebook: nothing saved (outputs, widget state) may point at
    the embedded server's random port, which dies with the kernel; and no key is saved."""
    assert_portable(demo_build / "quickstart.ipynb")


def test_b_reopened_untrusted_notebook_plays(lab, page, demo_build):
    folder = lab.root / f"reopened-{uuid.uuid4().hex[:8]}"
    shutil.copytree(demo_build, folder, ignore=shutil.ignore_patterns("*.html"))
    notebook = folder / "quickstart.ipynb"
    scenes = scenes_of(notebook)
    try:
        open_notebook(page, lab, notebook)
        trusted = page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets
            .filter(cell => cell.model.type === 'code' && cell.model.outputs.length)
            .map(cell => cell.model.trusted)""")
        assert trusted and not any(trusted), f"expected untrusted outputs (context b), got {trusted}"
        players = wait_for_players(page, scenes, captions_or_hint=True)
        assert_players(players, scenes, captions_or_hint=True)
        assert_videos_play(page, scenes)
    finally:
        lab.shutdown_sessions()


def test_c_exported_html_offline_from_file(page, demo_build):
    html = demo_build / "quickstart.html"
    blocked: list[str] = []

    def offline(route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.context.route("**/*", offline)
    page.goto(html.as_uri())
    scenes = scenes_of(demo_build / "quickstart.ipynb")
    players = wait_for_players(page, scenes)
    assert_players(players, scenes)
    for scene in scenes:
        summaries = [entry["summary"] for entry in players[scene.cell] if entry["summary"]]
        assert summaries and "credit" in summaries[0] and "job " in summaries[0], \
            f"{scene.class_name}: no summary line (credits, job) under the player: {summaries}"
    assert not [url for url in blocked if "127.0.0.1" in url], f"the page asks the dead server: {blocked}"
    assert_videos_play(page, scenes)


def test_d_players_outlive_a_remote_server(lab, page, e2e_tmp):
    """Rendered through a Kodisc reached by KODISC_BASE_URL (our server, simulate renderer, whose
    media come with a one-cue caption), executed with nbconvert; the server is then stopped and the
    notebook reopened in Lab: the video still plays and nothing saved names the server."""
    folder = lab.root / f"remote-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    notebook = make_notebook(folder / "remote.ipynb", ["%load_ext kodisc_jupyter", REMOTE_SCENE])
    env = kernel_env(e2e_tmp / "tmp", e2e_tmp / f"home-{folder.name}")
    with start_local_server(e2e_tmp / f"server-{folder.name}", renderer="simulate") as server:
        env.update(KODISC_BASE_URL=server.base_url, KODISC_API_KEY=server.api_key)
        done = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                               "--inplace", str(notebook)], env=env, cwd=folder, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        assert server.job_count() == 1
    assert_portable(notebook)
    scenes = [Scene(cell=1, class_name="Remote", captioned=True)]
    try:
        open_notebook(page, lab, notebook)
        players = wait_for_players(page, scenes, captions_or_hint=True)
        assert_players(players, scenes, captions_or_hint=True)
        assert_videos_play(page, scenes)
    finally:
        lab.shutdown_sessions()

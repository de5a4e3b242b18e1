"""A student opens a teacher's executed notebook without re-running it (issue 12).

Its outputs come from elsewhere (here `nbconvert --execute`, as a course build or papermill makes
them), so JupyterLab and Notebook 7 do not trust them and their sanitizer strips the HTML player's
`<track>`. Our mime renderer (the labextension the wheel installs) draws the player from its JSON
instead: the video loads and plays, the poster (a file beside the video) decodes, and the captions
track has cues, in both frontends.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import uuid

import nbformat
import pytest
from lab_driver import kernel_env, make_notebook, open_notebook
from players import Scene, assert_players, assert_portable, assert_videos_play, wait_for_players

from kodisc_jupyter.jupyter.player import PLAYER_MIME

pytestmark = pytest.mark.e2e

CAPTIONED = """%%kodisc Captioned -ql
from manim import *


class Captioned(Scene):
    def construct(self):
        square = Square(color=BLUE)
        self.play(Create(square), run_time=1, subcaption="Draw a square")
        self.play(square.animate.rotate(PI / 4), run_time=1, subcaption="Turn it")
"""
SCENES = [Scene(cell=1, class_name="Captioned", captioned=True)]
TRUSTED_JS = """() => window.jupyterapp.shell.currentWidget.content.widgets
    .filter(cell => cell.model.type === 'code' && cell.model.outputs.length)
    .map(cell => cell.model.trusted)"""


@pytest.fixture(scope="module")
def executed(e2e_tmp):
    """A one-scene lesson executed by nbconvert on the embedded local server (real Manim, low quality)."""
    folder = e2e_tmp / "untrusted-lesson"
    folder.mkdir()
    notebook = make_notebook(folder / "lesson.ipynb", ["%load_ext kodisc_jupyter", CAPTIONED])
    env = kernel_env(e2e_tmp / "tmp", e2e_tmp / "untrusted-home")
    done = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
                           str(notebook)], env=env, cwd=folder, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    saved = nbformat.read(notebook, as_version=4)
    [output] = [o for o in saved.cells[1].outputs if o.output_type == "display_data"]
    assert next(iter(output.data)) == PLAYER_MIME, list(output.data)
    assert {"text/html", "text/plain"} <= set(output.data), "the HTML and text siblings must stay"
    assert "widgets" not in saved.metadata, "a finished render left widget state in the notebook"
    assert_portable(notebook)
    return folder


@pytest.mark.parametrize("frontend", ["lab", "notebook7"])
def test_untrusted_reopen_shows_the_video_and_its_captions(frontend, request, page, executed):
    server = request.getfixturevalue(frontend)
    folder = server.root / f"untrusted-{uuid.uuid4().hex[:8]}"
    shutil.copytree(executed, folder)
    try:
        open_notebook(page, server, folder / "lesson.ipynb", wait_for_kernel=False)
        page.wait_for_function(f"() => ({TRUSTED_JS})().length > 0")
        trusted = page.evaluate(TRUSTED_JS)
        assert not any(trusted), f"expected untrusted outputs, got {trusted}"
        players = wait_for_players(page, SCENES)
        assert_players(players, SCENES)  # video, decodable poster, and captions cues (not the hint)
        assert page.locator(".kodisc-rendered video.kodisc-video").count() == 1, "not drawn by the mime renderer"
        assert_videos_play(page, SCENES)
    finally:
        server.shutdown_sessions()

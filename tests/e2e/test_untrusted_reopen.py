"""A student opens a teacher's executed notebook without re-running it (issue 12).

Its outputs come from elsewhere (here `nbconvert --execute`, as a course build or papermill makes
them), so JupyterLab and Notebook 7 do not trust them and their sanitizer strips the HTML player's
`<track>`. Our mime renderer (the labextension the wheel installs) draws the player from its JSON
instead: the video loads and plays, the poster decodes, and the captions track has cues, in both
frontends — linked (files beside the notebook) and embedded (`--embed`: the JSON takes the data:
URLs from its HTML sibling rather than carrying them twice).
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
EMBEDDED = CAPTIONED.replace("-ql", "-ql --embed", 1)  # the same scene: a cache hit, shown embedded
SCENES = [Scene(cell=1, class_name="Captioned", captioned=True), Scene(cell=2, class_name="Captioned", captioned=True)]
TRUSTED_JS = """() => window.jupyterapp.shell.currentWidget.content.widgets
    .filter(cell => cell.model.type === 'code' && cell.model.outputs.length)
    .map(cell => cell.model.trusted)"""


@pytest.fixture(scope="module")
def executed(e2e_tmp):
    """A one-scene lesson executed by nbconvert on the embedded local server (real Manim, low quality)."""
    folder = e2e_tmp / "untrusted-lesson"
    folder.mkdir()
    notebook = make_notebook(folder / "lesson.ipynb", ["%load_ext kodisc_jupyter", CAPTIONED, EMBEDDED])
    env = kernel_env(e2e_tmp / "tmp", e2e_tmp / "untrusted-home")
    done = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
                           str(notebook)], env=env, cwd=folder, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    saved = nbformat.read(notebook, as_version=4)
    linked, embedded = ([o for o in cell.outputs if o.output_type == "display_data" and PLAYER_MIME in o.data]
                        for cell in saved.cells[1:3])
    for [output] in (linked, embedded):
        assert next(iter(output.data)) == PLAYER_MIME, list(output.data)
        assert {"text/html", "text/plain"} <= set(output.data), "the HTML and text siblings must stay"
    assert linked[0].data[PLAYER_MIME]["captions"].endswith(".vtt")
    assert embedded[0].data[PLAYER_MIME]["media"] == "text/html" and embedded[0].data[PLAYER_MIME]["video"] is None
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
        assert page.locator(".kodisc-rendered video.kodisc-video").count() == 2, "not drawn by the mime renderer"
        assert_videos_play(page, SCENES)
    finally:
        server.shutdown_sessions()


HOSTILE = '"><img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


@pytest.mark.parametrize("frontend", ["lab", "notebook7"])
def test_hostile_player_json_is_drawn_as_text_and_loads_nothing_else(frontend, request, page):
    """A saved output crafted by someone else: every string shows as text, a script URL is refused,
    and the page requests no URL the output did not name."""
    server = request.getfixturevalue(frontend)
    folder = server.root / f"hostile-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    notebook = make_notebook(folder / "hostile.ipynb", ["# a saved output", "# another"])
    saved = nbformat.read(notebook, as_version=4)
    player = {"version": 1, "title": HOSTILE, "video": "kodisc_media/missing.mp4", "poster": "javascript:alert(1)",
              "captions": "https://captions.invalid/c.vtt", "fallback": "javascript:alert(2)",
              "width": "1px;background:url(https://css.invalid/x)", "max_width": "100%", "summary": HOSTILE,
              "notes": [HOSTILE]}
    saved.cells[0].outputs = [nbformat.v4.new_output("display_data", {PLAYER_MIME: player, "text/plain": "p"})]
    saved.cells[1].outputs = [nbformat.v4.new_output("display_data", {PLAYER_MIME: {"title": HOSTILE, "video":
                                                                                    "javascript:alert(3)"}})]
    nbformat.write(saved, notebook)
    foreign: list[str] = []
    page.on("request", lambda req: None if req.url.startswith(server.url) else foreign.append(req.url))
    try:
        open_notebook(page, server, notebook, wait_for_kernel=False)
        page.wait_for_selector(".kodisc-rendered .kodisc-summary")
        page.wait_for_selector(".kodisc-rendered .kodisc-error")
        drawn = page.evaluate("""() => {
          const video = document.querySelector('.kodisc-rendered video.kodisc-video');
          return {label: video.getAttribute('aria-label'), poster: video.getAttribute('poster'),
                  tracks: video.querySelectorAll('track').length, width: video.style.width,
                  summary: document.querySelector('.kodisc-rendered .kodisc-summary').textContent,
                  note: document.querySelector('.kodisc-rendered .kodisc-notice').textContent,
                  refused: document.querySelector('.kodisc-rendered .kodisc-error').textContent,
                  videos: document.querySelectorAll('.kodisc-rendered video').length};
        }""")
        assert drawn["label"] == HOSTILE and drawn["summary"] == HOSTILE and drawn["note"] == HOSTILE
        assert drawn["poster"] is None and drawn["tracks"] == 0 and drawn["width"] == "100%", drawn
        assert drawn["videos"] == 1 and "names no video" in drawn["refused"], drawn
        assert page.locator('.jp-OutputArea img[src="x"]').count() == 0
        page.wait_for_timeout(500)
        assert page.evaluate("() => window.__pwned") is None, "script from the output ran"
        assert foreign == [], f"the page loaded URLs the output did not name: {foreign}"
    finally:
        server.shutdown_sessions()

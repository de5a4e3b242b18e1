"""`%%kodisc` on a real kernel (nbclient) against the session's simulated local server over HTTP."""
from __future__ import annotations

import base64
import re
from datetime import datetime

import pytest
from nbrun import error_of, scene, simulate, text_of

from kodisc_jupyter.jupyter.player import PLAYER_MIME

pytestmark = pytest.mark.kernel

WIDGET = "application/vnd.jupyter.widget-view+json"


def only_display(cell) -> dict:
    displays = [o for o in cell.outputs if o["output_type"] == "display_data"]
    assert len(displays) == 1, cell.outputs
    return displays[0]["data"]


def assert_player(data: dict, work, class_name: str) -> str:
    """The final output: our renderer's JSON first, then the HTML player and text. The video and poster
    are files beside the notebook; the HTML inlines the captions (file:// refuses relative tracks), the
    JSON names the .vtt beside the video."""
    assert WIDGET not in data, "the status bar widget must be gone from a finished output"
    assert list(data)[0] == PLAYER_MIME, list(data)
    player = data[PLAYER_MIME]
    stem = player["video"].removesuffix(".mp4")
    assert player["title"] == class_name and player["poster"] == f"{stem}.jpg" and player["captions"] == f"{stem}.vtt"
    assert "Simulated render" in (work / player["captions"]).read_text()
    assert (work / player["poster"]).read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    page = data["text/html"]
    video = re.search(r'<video[^>]* src="([^"]+)"', page)
    assert video, page[:500]
    src = video.group(1)
    assert re.fullmatch(rf"kodisc_media/{class_name}-[a-z0-9]{{8}}\.mp4", src), src
    assert (work / src).stat().st_size > 0
    assert "<source" not in page
    assert src == player["video"] and f'poster="{stem}.jpg"' in page
    track = re.search(r'<track kind="captions"[^>]* src="data:text/vtt;base64,([^"]+)"', page)
    assert track and "Simulated render" in base64.b64decode(track.group(1)).decode()
    assert class_name in data["text/plain"] and "job " in data["text/plain"]
    return src


def test_render_shows_player_then_a_cache_hit_sends_no_post(run_cells, sim_server):
    before = sim_server.job_count()
    nb = run_cells([
        "%load_ext kodisc_jupyter\n%load_ext kodisc_jupyter",  # loading twice is harmless
        f"%%kodisc -ql --out first {simulate(0.3)}\n{scene('First')}",
        f"%%kodisc -ql {simulate(0.3)}\n{scene('First')}",
        "print(repr(first)); print(first.video.exists(), first.captions.suffix, first.job.status)",
    ], server=sim_server)
    assert sim_server.job_count() == before + 1
    assert all(error_of(cell) is None for cell in nb.cells), [text_of(c) for c in nb.cells]
    first = only_display(nb.cells[1])
    src = assert_player(first, run_cells.work, "First")
    cached = only_display(nb.cells[2])
    assert assert_player(cached, run_cells.work, "First") == src
    assert "cached" in cached["text/plain"] and "0 credits" in cached["text/plain"]
    printed = text_of(nb.cells[3])
    assert "<Rendered First job=" in printed and "True .vtt completed" in printed
    cost = re.search(r"credits=([\d.]+)", printed).group(1)
    assert float(cost) > 0 and f" · {cost} credit" in first["text/plain"]  # the summary shows the settled cost


def test_warnings_unknown_jobs_and_the_key_never_reaches_the_saved_notebook(run_cells, sim_server):
    uses_a_file = scene("KeyCheck", "self.add(ImageMobject('logo.png'))")
    nb = run_cells([
        "%load_ext kodisc_jupyter",
        f"%%kodisc -ql {simulate(0.1)}\n{uses_a_file}",
        "%kodisc_resume nonexistent-job",
    ], server=sim_server, name="key.ipynb")
    assert "Warning: line 6: ImageMobject('logo.png') uses a file beside the notebook" in text_of(nb.cells[1])
    assert error_of(nb.cells[1]) is None and "<video" in text_of(nb.cells[1])
    unknown = error_of(nb.cells[2])["traceback"]
    assert len(unknown) == 1 and "No job nonexistent-job in the history or on Kodisc" in unknown[0]
    assert "%kodisc_jobs" in unknown[0]
    saved = (run_cells.work / "key.ipynb").read_text()
    assert sim_server.api_key not in saved
    assert sim_server.api_key[14:30] not in saved  # not even a part beyond the display prefix


def test_every_failure_is_one_line_and_preflight_sends_nothing(run_cells, sim_server):
    preflight_cells = [
        "%%kodisc -ql\nfrom manim import *\nclass Broken(Scene:\n    pass\n",
        "%%kodisc -ql\nfrom manim import *\nclass UsesNotebookVar(Scene):\n    def construct(self):\n        self.add(radius, width)\n",
        f"%%kodisc Missing -ql\n{scene('Present')}",
        f"%%kodisc -ql\n{scene('One')}\n{scene('Two')}",
        "%%kodisc Missing -ql\nfrom manim import *\nclass Here(Scene):\n    def construct(self):\n        self.add(radius)\n",
    ]
    before = sim_server.job_count()
    nb = run_cells(["%load_ext kodisc_jupyter", *preflight_cells], server=sim_server)
    assert sim_server.job_count() == before, "a pre-flight error must not send a request"
    expected = ["line 2: SyntaxError", "names not defined in the cell, the prelude or the notebook: 'radius' (line 4), "
                "'width' (line 4)",
                "class 'Missing' is not defined", "several scenes (One, Two)", "class 'Missing' is not defined"]
    for cell, fragment in zip(nb.cells[1:], expected, strict=True):
        error = error_of(cell)
        assert error is not None, cell.outputs
        assert len(error["traceback"]) == 1 and error["traceback"][0].startswith("Kodisc: Cannot render:")
        assert fragment in error["traceback"][0]
        assert "Traceback" not in text_of(cell)
    listed = text_of(nb.cells[5])  # two errors: the one-line error says "and 1 more", the block lists both
    assert "(and 1 more)" in listed and "name 'radius' is not defined" in listed


def test_render_errors_fail_the_cell_with_their_message(run_cells, sim_server):
    hostile = "ValueError: <b>bold</b> & <script>alert(1)</script>"
    nb = run_cells([
        "%load_ext kodisc_jupyter",
        f"%%kodisc -ql --bogus\n{scene('Options')}",
        f"%%kodisc -ql {simulate(0.2, fail=hostile)}\n{scene('Fails')}",
        f"%%kodisc -ql --timeout 0.5 {simulate(5)}\n{scene('Slow')}",
        "%env KODISC_API_KEY=kdsc_live_" + "0" * 48,
        f"%%kodisc -ql\n{scene('BadKey')}",
        "print('still running')",
    ], server=sim_server)
    usage = error_of(nb.cells[1])["traceback"]
    assert usage == ["Kodisc: unrecognized arguments: --bogus (options: %%kodisc?)"]  # %kodisc? finds no object

    failed = error_of(nb.cells[2])
    assert len(failed["traceback"]) == 1
    assert re.fullmatch(r"Kodisc: Fails failed to render \(job \w+\): .*" + re.escape(hostile), failed["traceback"][0])
    block = only_display(nb.cells[2])["text/html"]
    assert "<script>alert" not in block and "&lt;script&gt;alert(1)&lt;/script&gt;" in block

    timed_out = error_of(nb.cells[3])["traceback"]
    assert len(timed_out) == 1 and "after 0.5 s" in timed_out[0] and "%kodisc_resume " in timed_out[0]

    bad_key = error_of(nb.cells[5])["traceback"]
    assert len(bad_key) == 1 and "401" in bad_key[0] and "KODISC_API_KEY" in bad_key[0]
    assert "0" * 48 not in bad_key[0]
    assert text_of(nb.cells[6]).strip() == "still running"
    for cell in nb.cells[2:6]:
        assert "Traceback (most recent call last)" not in text_of(cell)


def test_no_wait_returns_before_the_job_ends_and_updates_in_place(run_cells, sim_server):
    nb = run_cells([
        "%load_ext kodisc_jupyter",
        f"%%kodisc -ql --no-wait --out later {simulate(1.5)}\n{scene('Later')}",
        f"%%kodisc -ql --no-wait {simulate(0.5, fail='IndexError: out of range')}\n{scene('LaterFails')}",
        "import time\nfor _ in range(100):\n    time.sleep(0.1)\n    if 'later' in globals(): break\n"
        "time.sleep(0.5)\nprint(later.job.completed_at.isoformat())",
    ], server=sim_server)
    returned = datetime.fromisoformat(nb.cells[1].metadata["execution"]["shell.execute_reply"].replace("Z", "+00:00"))
    completed = datetime.fromisoformat(text_of(nb.cells[3]).strip())
    assert returned < completed, "the --no-wait cell must return before the job completes"
    assert_player(only_display(nb.cells[1]), run_cells.work, "Later")
    # A failure after the cell returned has no cell to fail: its output becomes the error block.
    assert error_of(nb.cells[2]) is None
    failed = only_display(nb.cells[2])
    assert WIDGET not in failed and 'class="kodisc-error"' in failed["text/html"]
    assert "LaterFails failed to render" in failed["text/plain"] and "IndexError: out of range" in failed["text/plain"]


def test_interrupt_ends_the_wait_not_the_job_and_resume_picks_it_up(run_cells, sim_server):
    slow = f"%%kodisc -ql {simulate(4)}\n{scene('Patient')}"
    nb = run_cells([
        "%load_ext kodisc_jupyter",
        # Pre-flight lists Manim's names once per home (a subprocess importing Manim, seconds on a busy
        # machine): done first, so the 2 s interrupt lands in the wait this test is about.
        "from kodisc_jupyter.rendering.manim_names import manim_names\nassert manim_names()",
        slow,
        "from kodisc_jupyter.rendering import pipeline\njob_id = pipeline.history().list(limit=1)[0].job_id",
        "%kodisc_resume $job_id",
    ], server=sim_server, timeout_func=lambda cell: 2 if cell.source == slow else 60)
    nb.cells = nb.cells[1:]  # the warm-up cell aside, cells are numbered as the user wrote them
    stopped = error_of(nb.cells[1])["traceback"]
    assert len(stopped) == 1 and "goes on" in stopped[0] and "%kodisc_resume " in stopped[0]
    job_id = stopped[0].rsplit(" ", 1)[1]
    # The bar freezes at its last state (no red block repeating the error line: the job did not fail).
    frozen = only_display(nb.cells[1])
    assert 'class="kodisc-error"' not in frozen["text/html"] and 'class="kodisc-warning"' in frozen["text/html"]
    assert re.fullmatch(rf"Kodisc · Patient: (queued|running) · \d+\.\d s · job {job_id[:8]} · Kodisc"
                        r" · no longer followed here; the job goes on", frozen["text/plain"])
    assert text_of(nb.cells[1]).count("%kodisc_resume") == 1
    assert_player(only_display(nb.cells[3]), run_cells.work, "Patient")

    count = sim_server.job_count()
    restarted = run_cells(["%load_ext kodisc_jupyter", f"%kodisc_resume {job_id}", "%kodisc_resume nope"],
                          server=sim_server)
    assert_player(only_display(restarted.cells[1]), run_cells.work, "Patient")
    assert sim_server.job_count() == count
    assert error_of(restarted.cells[2])["traceback"] == [
        "Kodisc: No job nope in the history or on Kodisc: check the id (and that the key in use created it); "
        "past jobs: %kodisc_jobs"]


def test_status_under_nbclient_is_snapshots_alone_and_leaves_no_widget_state(run_cells, sim_server):
    """A batch executor watches nothing live and saves every widget it saw (closed or not): the bar there
    is text and HTML snapshots only, so a finished render leaves no widget state in the notebook (live
    frontends get the widget: tests/e2e)."""
    # The kernel stops right after the cell returns, so the --no-wait output keeps its live status bar.
    nb = run_cells(["%load_ext kodisc_jupyter", f"%%kodisc -ql --no-wait {simulate(30)}\n{scene('Pending')}",
                    f"%%kodisc -ql {simulate(0.3)}\n{scene('Finished')}"], server=sim_server)
    assert "widgets" not in nb.metadata, nb.metadata.get("widgets")
    assert_player(only_display(nb.cells[2]), run_cells.work, "Finished")
    data = only_display(nb.cells[1])
    assert set(data) == {"text/plain", "text/html"}
    assert re.match(r"Kodisc · Pending: (queued|running) · \d+\.\d s · job [a-z0-9]{8} · Kodisc$", data["text/plain"])
    assert re.search(r'class="kodisc-status-snapshot" data-state="(queued|running)"', data["text/html"])
    assert "<progress" in data["text/html"]

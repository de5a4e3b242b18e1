"""notebooks/quickstart.ipynb run in JupyterLab and in Jupyter Notebook 7 against the embedded local
server (no key).

One run of the notebook, checked the way a user sees it: the live status bar and its states
(sampled every 100 ms while the cells run), each player right after its cell ran (context a), the
panel with the balance and the new jobs and its Refresh button, a failing scene's error block —
whose message carries HTML/JS that must show as text and never run — and finally, after the
kernel (and with it the embedded server) is gone, the saved notebook reopened: its videos still
play (context d).
"""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone

import pytest
from lab_driver import REPO, append_cells, open_notebook, run_all_cells, save_notebook, screenshot
from players import assert_players, assert_portable, assert_videos_play, scenes_of, wait_for_players
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

QUICKSTART = REPO / "notebooks" / "quickstart.ipynb"
RUN_TIMEOUT_S = 240
PAYLOAD = '<img src=x onerror="window.__pwned=1">'
# The scene fails after a second on purpose: a warm worker fails it in well under the sampler's
# 100 ms, and its status bar must be on screen long enough to be seen.
HOSTILE_SCENE = f"""%%kodisc Hostile -ql
import time

from manim import *


class Hostile(Scene):
    def construct(self):
        time.sleep(1)
        raise Exception('{PAYLOAD}')
"""
PENDING_STATES = ("submitting", "queued", "running")

SAMPLE_JS = """() => {
  const widget = window.jupyterapp.shell.currentWidget;
  const session = widget.sessionContext.session;
  const code = widget.content.widgets.filter(cell => cell.model.type === 'code');
  return {
    kernel: session && session.kernel ? session.kernel.status : null,
    last: code[code.length - 1].model.executionCount,
    bars: document.querySelectorAll('.kodisc-status').length,
    states: Array.from(document.querySelectorAll('.kodisc-status .kodisc-state'))
      .map(el => el.textContent.trim()),
  };
}"""


def run_and_sample(page) -> tuple[set[str], int]:
    """Run all cells and sample every 100 ms until the last cell ran (or the run stopped early).

    Returns every status-bar state label seen and the largest number of bars seen at once."""
    run_all_cells(page)
    seen: set[str] = set()
    most_bars = 0
    idle_since = None
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        sample = page.evaluate(SAMPLE_JS)
        seen.update(sample["states"])
        most_bars = max(most_bars, sample["bars"])
        if sample["kernel"] == "idle":
            idle_since = idle_since or time.monotonic()
            if sample["last"] is not None or time.monotonic() - idle_since > 5:
                return seen, most_bars
        else:
            idle_since = None
        time.sleep(0.1)
    raise AssertionError(f"the notebook did not finish within {RUN_TIMEOUT_S} s; states seen: {sorted(seen)}")


def record_job_from_elsewhere(monkeypatch, kodisc_home) -> str:
    """A job written to the shared history by another process (as another kernel would), which
    this kernel's panel can only learn about through its Refresh button."""
    from kodisc_jupyter.client import Job, format_timestamp
    from kodisc_jupyter.rendering.history import History

    monkeypatch.setenv("KODISC_HOME", str(kodisc_home))
    job = Job.from_dict({
        "jobId": "elsewhere0000000000000001", "endpoint": "render", "status": "queued", "creditsCost": 0,
        "durationMs": None, "result": None, "error": None, "metadata": None,
        "createdAt": format_timestamp(datetime.now(timezone.utc)), "completedAt": None,
    })
    with History() as history:
        history.record_submitted(job, backend="local", base_url="http://elsewhere.invalid/api/v2",
                                 key_prefix=None, class_name="FromAnotherKernel", quality="low",
                                 aspect_ratio="16:9", fps=None, code="# rendered elsewhere")
        assert history.get(job.job_id) is not None, "the history did not keep the row"
    return "FromAnotherKernel"


@pytest.mark.parametrize("frontend", ["lab", "notebook7"])
def test_quickstart(frontend, request, page, monkeypatch):
    lab = request.getfixturevalue(frontend)
    notebook = lab.copy_notebook(QUICKSTART, "quickstart")
    append_cells(notebook, [HOSTILE_SCENE])
    scenes = scenes_of(notebook)
    rendered = [scene for scene in scenes if scene.class_name != "Hostile"]
    try:
        open_notebook(page, lab, notebook)
        states, most_bars = run_and_sample(page)
        screenshot(page, f"quickstart_{frontend}_after_run")

        # The status bar appeared and went through its states, then gave way to the player.
        assert most_bars >= 1, "no status bar (.kodisc-status) was ever shown"
        for scene in scenes:
            pending = {s for s in states if s.startswith(f"{scene.class_name}: ") and s.split(": ", 1)[1] in PENDING_STATES}
            assert pending, f"{scene.class_name}: no pending state seen; all states seen: {sorted(states)}"
        assert page.locator(".kodisc-status").count() == 0, "a status bar is still shown after the run"

        # (a) Each player, right after its cell ran: video, poster, captions (trusted: the hint is gone).
        players = wait_for_players(page, rendered)
        assert_players(players, rendered)

        # The failing scene: an error block whose HTML payload is shown as text and never runs.
        error_block = page.locator(".kodisc-error")
        expect(error_block).to_have_count(1)
        expect(error_block).to_contain_text("Hostile")
        expect(error_block).to_contain_text(PAYLOAD)
        assert page.locator('.jp-OutputArea img[src="x"]').count() == 0, "the server's HTML became an element"
        assert page.evaluate("() => window.__pwned") is None, "script from an error message ran"
        cell_errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        assert "Traceback" not in " ".join(cell_errors.all_inner_texts()), "a raw traceback reached the cell"

        # The panel: balance, the new jobs, and a Refresh that reads the shared history again.
        panel = page.locator(".kodisc-panel")
        expect(panel).to_be_visible()
        expect(panel.locator(".kodisc-balance")).to_contain_text(re.compile(r"\d+ credits \(\d+ paid, \d+ free\)"))
        for scene in rendered:
            expect(panel).to_contain_text(scene.class_name)
        newcomer = record_job_from_elsewhere(monkeypatch, lab.kodisc_home)
        expect(panel).not_to_contain_text(newcomer)
        panel.locator(".kodisc-refresh").click()
        expect(panel).to_contain_text(newcomer)
        screenshot(page, f"quickstart_{frontend}_panel_refreshed")

        # (d) Saved, kernel and embedded server gone, reopened: the videos still play.
        save_notebook(page, notebook)
        lab.shutdown_sessions()
        assert lab.api("GET", "/api/kernels").json() == [], "the kernel (and its embedded server) still runs"
        open_notebook(page, lab, notebook, wait_for_kernel=False)
        players = wait_for_players(page, rendered)
        assert_players(players, rendered)
        assert_videos_play(page, rendered)
        screenshot(page, f"quickstart_{frontend}_reopened_after_kernel_shutdown")
        assert_portable(notebook)
    finally:
        lab.shutdown_sessions()

"""The panel in a notebook executed on a real kernel, then exported to HTML with nbconvert."""
from __future__ import annotations

import re

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

pytestmark = pytest.mark.kernel

SCENE = '''%%kodisc Later -ql --metadata '{"simulate": {"seconds": 0.2}}'
from manim import *


class Later(Scene):
    def construct(self):
        self.add(Square())
        self.wait(0.5)
'''
NO_WAIT = SCENE.replace("Later", "Background").replace("-ql", "-ql --no-wait").replace("0.2}", "1.0}")
# The kernel stays free while the --no-wait job runs; wait (bounded) until the panel shows it done.
UNTIL_DONE = '''import time
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not any(
        "Background" in line and "completed" in line for line in repr(panel).splitlines()):
    time.sleep(0.1)
'''


def test_exported_notebook_shows_the_panel_as_it_was(account, made_jobs, tmp_path):
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                 "language": "python"}})
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in (
        "%load_ext kodisc_jupyter", "from kodisc_jupyter import Panel\npanel = Panel()\npanel",
        SCENE, NO_WAIT, UNTIL_DONE)]
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    path = tmp_path / "panel.ipynb"
    nbformat.write(notebook, path)

    (panel_output,) = [o for o in notebook.cells[1].outputs if o.get("output_type") == "display_data"]
    assert "application/vnd.jupyter.widget-view+json" in panel_output.data
    shown = re.findall(r'data-job-id="([^"]+)"', panel_output.data["text/html"])
    later, background = shown[1], shown[0]
    assert shown[2:] == [made_jobs["Gamma"], made_jobs["Beta"], made_jobs["Alpha"]]
    with account.client() as client:
        me = client.me()
        assert client.get_job(later).status == client.get_job(background).status == "completed"
    assert re.search(rf"{background}\s+Background\s+low\s+completed", panel_output.data["text/plain"]), \
        "the snapshot follows a --no-wait job finishing in the background"
    balance = re.search(r"([\d.]+) credits \(", panel_output.data["text/plain"]).group(1)
    assert float(balance) == pytest.approx(me.credits.total, abs=0.005)

    saved = nbformat.read(path, as_version=4)
    # nbclient stores the widget state, so nbconvert draws the live widgets (with html-manager from a CDN)
    # and the state it embeds holds the panel as it was.
    with_state, _ = HTMLExporter().from_notebook_node(saved)
    state = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', with_state, re.S)
    assert state and later in state.group(1) and f"{balance} credits" in state.group(1)
    # JupyterLab does not save widget state by default: nbconvert then renders the text/html snapshot.
    del saved.metadata["widgets"]
    snapshot, _ = HTMLExporter().from_notebook_node(saved)
    assert 'class="kodisc-panel"' in snapshot and 'class="kodisc-jobs-table"' in snapshot
    assert f"{balance} credits" in snapshot
    for job_id in (later, background, *made_jobs.values()):
        assert f'data-job-id="{job_id}"' in snapshot
    for text in (with_state, snapshot, path.read_text()):
        assert account.api_key not in text

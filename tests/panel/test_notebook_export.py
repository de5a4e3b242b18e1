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


def test_exported_notebook_shows_the_panel_as_it_was(account, made_jobs, tmp_path):
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                 "language": "python"}})
    notebook.cells = [nbformat.v4.new_code_cell("%load_ext kodisc_jupyter"),
                      nbformat.v4.new_code_cell("%kodisc_panel"),
                      nbformat.v4.new_code_cell(SCENE)]
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    path = tmp_path / "panel.ipynb"
    nbformat.write(notebook, path)

    (panel_output,) = [o for o in notebook.cells[1].outputs if o.get("output_type") == "display_data"]
    assert "application/vnd.jupyter.widget-view+json" in panel_output.data
    later = re.search(r'data-job-id="([^"]+)"', panel_output.data["text/html"]).group(1)
    assert later not in made_jobs.values(), "the snapshot was updated when the later render finished"
    with account.client() as client:
        me = client.me()
        assert client.get_job(later).status == "completed"
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
    for job_id in (later, *made_jobs.values()):
        assert f'data-job-id="{job_id}"' in snapshot
    for text in (with_state, snapshot, path.read_text()):
        assert account.api_key not in text

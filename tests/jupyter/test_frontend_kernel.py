"""A real kernel started as VS Code starts it (VSCODE_PID in its environment) embeds the video by default;
a plain kernel links the file; `%config Kodisc.embed_max_mb` caps the embedding in VS Code."""
from __future__ import annotations

import re

import pytest
from nbrun import error_of, scene, simulate, text_of

pytestmark = pytest.mark.kernel

LOAD = "%load_ext kodisc_jupyter"


def player_src(cell) -> str:
    assert error_of(cell) is None, text_of(cell)
    page = next(o["data"]["text/html"] for o in cell.outputs if "<video" in o.get("data", {}).get("text/html", ""))
    return re.search(r'<video[^>]* src="([^"]+)"', page).group(1)


def test_a_vscode_kernel_embeds_and_a_plain_kernel_links(run_cells, sim_server):
    cell = f"%%kodisc -ql {simulate(0.1)}\n{scene('Everywhere')}"
    plain = run_cells([LOAD, cell], server=sim_server, name="plain.ipynb")
    assert re.fullmatch(r"kodisc_media/Everywhere-\w{8}\.mp4", player_src(plain.cells[1]))
    vscode = run_cells([LOAD, cell], server=sim_server, env={"VSCODE_PID": "4242"}, name="vscode.ipynb")
    assert player_src(vscode.cells[1]).startswith("data:video/mp4;base64,")  # the cached render, embedded
    assert "video: embedded in this notebook" in text_of(vscode.cells[1])


def test_a_vscode_kernel_over_the_configured_cap_links_and_says_how_to_watch(run_cells, sim_server):
    notebook = run_cells([LOAD, "%config Kodisc.embed_max_mb = 0.001",
                          f"%%kodisc -ql {simulate(0.1)}\n{scene('TooBig')}"],
                         server=sim_server, env={"VSCODE_CWD": "/home/me/project"})
    assert re.fullmatch(r"kodisc_media/TooBig-\w{8}\.mp4", player_src(notebook.cells[2]))
    text = text_of(notebook.cells[2])
    assert "VS Code cannot play a linked file: open kodisc_media/TooBig-" in text and ".save(path)" in text

"""The shipped notebooks, run unattended with no key: the kernel starts its own local server (real Manim)."""
from __future__ import annotations

import base64
import re
import shutil

import nbformat
import pytest
from nbrun import REPO, error_of, kernel_env, text_of

pytestmark = [pytest.mark.kernel, pytest.mark.render]


def execute(name: str, tmp_path):
    from nbclient import NotebookClient

    work = tmp_path / "work"
    work.mkdir()
    target = work / name
    shutil.copyfile(REPO / "notebooks" / name, target)
    notebook = nbformat.read(target, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        f"{name} must be committed without outputs"
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    NotebookClient(notebook, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(work)}}).execute(env=kernel_env(tmp_path / "home", None))
    nbformat.write(notebook, target)
    return notebook, work


def players(notebook, work) -> dict[str, str]:
    """class name -> the player HTML of each %%kodisc cell, checking the video file is beside the notebook."""
    found = {}
    for cell in notebook.cells:
        if cell.cell_type != "code" or cell.source.split()[0] != "%%kodisc":
            continue
        assert error_of(cell) is None, text_of(cell)
        page = next(o["data"]["text/html"] for o in cell.outputs if "<video" in o.get("data", {}).get("text/html", ""))
        src = re.search(r'<video[^>]* src="(kodisc_media/(\w+)-\w{8}\.mp4)"', page)
        assert src and (work / src.group(1)).stat().st_size > 1000
        poster = re.search(r'<video[^>]* poster="(kodisc_media/\w+-\w{8}\.jpg)"', page)
        assert poster and (work / poster.group(1)).read_bytes()[:2] == b"\xff\xd8"  # a JPEG beside the video
        found[src.group(2)] = page
    return found


def captions(page: str) -> str:
    track = re.search(r'<track kind="captions"[^>]* src="data:text/vtt;base64,([^"]+)"', page)
    return base64.b64decode(track.group(1)).decode() if track else ""


def test_quickstart_renders_locally_with_no_key(tmp_path):
    notebook, work = execute("quickstart.ipynb", tmp_path)
    found = players(notebook, work)
    assert set(found) == {"HelloKodisc", "CircleToSquare", "Portrait"}
    assert "Rendering locally with Manim" in text_of(notebook.cells[3])
    assert "A circle appears." in captions(found["CircleToSquare"])
    assert "It becomes a square." in captions(found["CircleToSquare"])
    assert captions(found["HelloKodisc"]) == ""  # no subcaptions: no track, no hint
    shown = notebook.cells[8].outputs[0]["data"]  # the `portrait` cell: the same player and text as the magic's
    assert "<video" in shown["text/html"] and re.search(r"^▶ Portrait .*\n  video: kodisc_media/Portrait-\w{8}\.mp4$",
                                                         shown["text/plain"])
    assert str(tmp_path / "home") not in (work / "quickstart.ipynb").read_text(), "a private path in the notebook"
    assert "width:360px" in found["Portrait"] and "width:360px" not in found["HelloKodisc"]
    assert "local" in text_of(notebook.cells[3])


def test_teaching_notebook_uses_its_prelude(tmp_path):
    notebook, work = execute("teaching.ipynb", tmp_path)
    found = players(notebook, work)
    assert set(found) == {"RightTriangle", "Theorem"}
    assert "Two legs meet at a right angle." in captions(found["RightTriangle"])
    assert "...equals c squared." in captions(found["Theorem"])
    assert "LEG_A, LEG_B = 3, 4" in text_of(notebook.cells[-1])  # %kodisc_prelude shows it


def test_resume_after_a_kernel_restart_finds_the_embedded_server_again(run_cells):
    from nbrun import scene

    first = run_cells(["%load_ext kodisc_jupyter", f"%%kodisc -ql\n{scene('Restarted')}",
                       "from kodisc_jupyter.rendering import pipeline\nprint(pipeline.history().list(limit=1)[0].job_id)"])
    job_id = text_of(first.cells[2]).strip()
    assert error_of(first.cells[1]) is None and "Restarted" in text_of(first.cells[1])
    for saved in (run_cells.home / "media" / job_id).iterdir():  # the local copies are gone: ask the server
        saved.unlink()
    second = run_cells(["%load_ext kodisc_jupyter", f"%kodisc_resume {job_id}"])  # a new kernel, a new port
    page = text_of(second.cells[1])
    assert error_of(second.cells[1]) is None, page
    assert re.search(r'<video[^>]* src="kodisc_media/Restarted-\w{8}\.mp4"', page)
    assert (run_cells.home / "media" / job_id / "video.mp4").stat().st_size > 1000

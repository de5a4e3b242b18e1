"""kodisc_jupyter.sphinx on a small Sphinx project (myst-parser pages with raw players; no kernel, no render)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kodisc_jupyter.sphinx import media_references

REPO = Path(__file__).resolve().parents[2]


def test_media_references_are_the_relative_urls_of_media_elements():
    html = ('<video src="kodisc_media/A%20b.mp4#t=1" poster="data:image/jpeg;base64,AA"><track src="cc/a.vtt">'
            '<source src="https://cdn.example/x.mp4"></video><img src="kodisc_media/not-media.png">'
            '<video src="/abs.mp4"></video><audio src="//host/a.mp3"></audio><video src="kodisc_media/A%20b.mp4">')
    assert media_references(html) == ["kodisc_media/A b.mp4", "cc/a.vtt"]


@pytest.mark.parametrize("builder", ["html", "dirhtml"])
def test_linked_media_are_copied_where_the_page_resolves_them_and_nothing_outside(tmp_path, builder):
    docs = tmp_path / "docs"
    (docs / "lessons" / "kodisc_media").mkdir(parents=True)
    (docs / "lessons" / "kodisc_media" / "Intro-1a2b3c4d.mp4").write_bytes(b"video bytes")
    (docs / "lessons" / "kodisc_media" / "Intro.vtt").write_text("WEBVTT\n")
    (tmp_path / "secret.mp4").write_bytes(b"not for the site")
    (docs / "conf.py").write_text('extensions = ["myst_parser", "kodisc_jupyter.sphinx"]\n'
                                  'myst_enable_extensions = []\nexclude_patterns = ["_build"]\n')
    (docs / "index.md").write_text("# Course\n\n```{toctree}\nlessons/one\n```\n")
    (docs / "lessons" / "one.md").write_text(
        "# One\n\n<video src=\"kodisc_media/Intro-1a2b3c4d.mp4\"><track src=\"kodisc_media/Intro.vtt\"></video>\n\n"
        "<video src=\"../../secret.mp4\"></video>\n\n<video src=\"kodisc_media/Gone.mp4\"></video>\n")
    out = tmp_path / "out"
    build = subprocess.run([sys.executable, "-m", "sphinx", "-b", builder, "-q", str(docs), str(out)],
                           capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin"})
    assert build.returncode == 0, build.stderr
    page_dir = out / "lessons" if builder == "html" else out / "lessons" / "one"
    assert (page_dir / "kodisc_media" / "Intro-1a2b3c4d.mp4").read_bytes() == b"video bytes"
    assert (page_dir / "kodisc_media" / "Intro.vtt").read_text() == "WEBVTT\n"
    assert not list(out.rglob("secret.mp4"))
    assert "links ../../secret.mp4, outside the documentation folder: not copied" in build.stderr
    assert "links kodisc_media/Gone.mp4, which does not exist: execute the notebook again" in build.stderr


def test_nbsphinx_pages_get_their_players_videos_too(tmp_path):
    """nbsphinx (without pandoc: code cells only) copies the output HTML, not the file; the extension does."""
    import json

    docs = tmp_path / "docs"
    (docs / "kodisc_media").mkdir(parents=True)
    (docs / "kodisc_media" / "Hello-1a2b3c4d.mp4").write_bytes(b"video bytes")
    player = '<div class="kodisc-player"><video class="kodisc-video" controls src="kodisc_media/Hello-1a2b3c4d.mp4"></video></div>'
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3", "display_name": "P",
                                                                                "language": "python"}},
                "cells": [{"cell_type": "code", "id": "a", "metadata": {}, "execution_count": 1, "source": "%%kodisc\n...",
                           "outputs": [{"output_type": "display_data", "metadata": {},
                                        "data": {"text/html": player, "text/plain": "▶ Hello"}}]}]}
    (docs / "lesson.ipynb").write_text(json.dumps(notebook))
    (docs / "conf.py").write_text('extensions = ["nbsphinx", "kodisc_jupyter.sphinx"]\nnbsphinx_execute = "never"\n'
                                  'exclude_patterns = ["_build"]\n')
    (docs / "index.rst").write_text("Course\n======\n\n.. toctree::\n\n   lesson\n")
    out = tmp_path / "out"
    build = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", str(docs), str(out)],
                           capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin"})
    assert build.returncode == 0, build.stderr
    assert 'src="kodisc_media/Hello-1a2b3c4d.mp4"' in (out / "lesson.html").read_text()
    assert (out / "kodisc_media" / "Hello-1a2b3c4d.mp4").read_bytes() == b"video bytes"

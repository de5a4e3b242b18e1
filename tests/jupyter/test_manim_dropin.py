"""A notebook written for `%%manim` runs with `%%kodisc` (real kernel, embedded server, real Manim).

Manim's docs pattern: `from manim import *` in a cell of its own, then cells with Manim's flags;
the two cells of Manim's example_scenes/manim_jupyter_example.ipynb are here as written (only the
magic's name changed). Whatever logging Manim's import installs, no cell shows a log record.
"""
from __future__ import annotations

import base64
import json
import re
import subprocess
import sys

import pytest
from nbrun import error_of, kernel_env, text_of

pytestmark = [pytest.mark.kernel, pytest.mark.render]

SQUARE_TO_CIRCLE = '''%%kodisc -qm -v WARNING SquareToCircle
class SquareToCircle(Scene):
    def construct(self):
        circle = Circle()
        square = Square()
        square.flip(RIGHT)
        square.rotate(-3 * TAU / 8)
        circle.set_fill(PINK, opacity=0.5)
        self.play(Create(square), run_time=0.3)
        self.play(Transform(square, circle), run_time=0.3)
'''
# manim_jupyter_example.ipynb, cells 2 and 3, as written but for the magic's name.
EXAMPLE1 = '''%%kodisc Example1 -s -p -ql -v WARNING --disable_caching

class Example1(Scene):
    def construct(self):
        self.add(Circle())'''
HELLO_MANIM = '''%%kodisc HelloManim  -p -q m -v WARNING --disable_caching

class HelloManim(Scene):
    def construct(self):
        self.camera.background_color = "#ece6e2"
        banner_large = ManimBanner(dark_theme=False).scale(0.7)
        self.play(banner_large.create())
        self.play(banner_large.expand())'''
CONFIGURED = '''%%kodisc -ql
config.media_width = "60%"
config.background_color = "#1e1e2e"

class Configured(Scene):
    def construct(self):
        self.play(FadeIn(Dot(color=YELLOW)), run_time=0.2)
'''
LOG_RECORD = re.compile(r"\b(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b|HTTP Request|httpx|httpcore")


def video_size(work, page: str) -> tuple[int, int]:
    import av

    src = re.search(r'<video[^>]* src="(kodisc_media/[^"]+\.mp4)"', page).group(1)
    with av.open(str(work / src)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.width, stream.codec_context.height


def test_a_manim_notebook_runs_with_the_magic_renamed(run_cells):
    nb = run_cells([
        "%load_ext kodisc_jupyter",
        "from manim import *",
        SQUARE_TO_CIRCLE,
        EXAMPLE1,
        HELLO_MANIM,
        CONFIGURED,
        "radius = 2",
        "%%kodisc -ql\nclass UsesRadius(Scene):\n    def construct(self):\n        self.add(Circle(radius=radius))\n",
        "import logging\nprint(logging.getLogger().handlers, logging.getLogger().level)",
        "import manim as mn\nfrom manim import Square as Box",
        "%%kodisc -ql\nclass Aliased(mn.Scene):\n    def construct(self):\n        self.play(mn.FadeIn(Box()), run_time=0.2)\n",
        "from kodisc_jupyter.rendering import pipeline\nprint(pipeline.history().list(limit=1)[0].code.splitlines()[:3])",
        "import kodisc_jupyter\nclip = kodisc_jupyter.render('from manim import *\\nclass Plain(Scene):\\n    def construct(self):\\n"
        "        self.play(FadeIn(Dot()), run_time=0.2)\\n', quality='low')\nprint(clip.job.status)",
    ], timeout=240)
    cells = nb.cells
    for cell in cells[2:6]:
        assert error_of(cell) is None, text_of(cell)
        streams = [o for o in cell.outputs if o["output_type"] == "stream"]
        assert streams == [], streams  # nothing printed: no log record, no progress bar
        assert not LOG_RECORD.search(text_of(cell).replace("-v WARNING", "")), text_of(cell)
    assert "RichHandler" in text_of(cells[8]) and text_of(cells[8]).strip().endswith(" 20")  # Manim's root handler at INFO

    # The notebook's import is sent along, and one line says so, the first time only.
    notices = [cell for cell in cells[2:6] if "Sending this notebook's `from manim import *`" in text_of(cell)]
    assert notices == [cells[2]]

    # -q m: 1280x720.
    assert video_size(run_cells.work, text_of(cells[2])) == (1280, 720)
    assert video_size(run_cells.work, text_of(cells[4])) == (1280, 720)

    # -s: the last frame as a PNG (a still scene renders too), and no player.
    [still] = [o["data"] for o in cells[3].outputs if "image/png" in o.get("data", {})]
    png = base64.b64decode(still["image/png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") == 854  # -ql's width (IHDR)
    assert "Example1 (last frame)" in still["text/plain"] and "<video" not in text_of(cells[3])

    # config.media_width at the top of the cell sets the player's width, as %%manim's does.
    assert "width:60%" in text_of(cells[5]).replace(" ", "")

    # Other spellings of the import are sent as the notebook wrote them.
    assert error_of(cells[10]) is None and "<video" in text_of(cells[10]), text_of(cells[10])
    assert not LOG_RECORD.search(text_of(cells[10]))
    assert text_of(cells[11]).strip() == "['from manim import Square as Box', 'import manim as mn', '']"

    # Plain Python's render() in a cell shows no log record either.
    assert text_of(cells[12]).strip().endswith("completed") and not LOG_RECORD.search(text_of(cells[12])), \
        text_of(cells[12])

    # `kodisc render NOTEBOOK` (no kernel) builds the very code the kernel sent, import included,
    # so a pre-rendered course in Manim's docs pattern is all cache hits when executed. (In a
    # subprocess: reading the notebook imports Manim, which would configure this process's logging.)
    from kodisc_jupyter.rendering.history import History

    sent = {record.class_name: record.code for record in History(run_cells.home / "history.sqlite3").list(limit=50)}
    assert set(sent) == {"SquareToCircle", "Example1", "HelloManim", "Configured", "UsesRadius", "Aliased", "Plain"}
    del sent["Plain"]  # render(), not a %%kodisc cell
    script = ("import json, sys; from pathlib import Path; from kodisc_jupyter.cells.notebook import render_cells; "
              "print(json.dumps([c.request.full_code for c in render_cells(Path(sys.argv[1])) if c.request]))")
    listed = subprocess.run([sys.executable, "-c", script, str(run_cells.work / "test.ipynb")], capture_output=True,
                            text=True, timeout=120, check=True, env=kernel_env(run_cells.home, None))
    assert set(sent.values()) <= set(json.loads(listed.stdout.strip().splitlines()[-1]))

    # A notebook variable travels with the cell, as %%manim sees it, and the summary says so.
    assert error_of(cells[7]) is None and "with radius from the notebook" in text_of(cells[7]), text_of(cells[7])
    assert sent["UsesRadius"].startswith("from manim import *\n\nradius = 2\n\nclass UsesRadius(Scene):")

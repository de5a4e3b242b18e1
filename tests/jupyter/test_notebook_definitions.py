"""A notebook in the `%%manim` style renders with `%%kodisc`: its definitions travel with the cell (real
kernel, embedded server, real Manim at -ql -s).

Earlier cells hold the imports, constants, two helpers (one calling the other) and a VGroup subclass;
a later cell renders a scene that uses them, under `%%manim -s` and `%%kodisc -s`.
"""
from __future__ import annotations

import base64
import io
import subprocess
import sys

import pytest
from nbrun import error_of, kernel_env, simulate, text_of

pytestmark = [pytest.mark.kernel, pytest.mark.render]

SETUP = [
    "%load_ext kodisc_jupyter",
    "from manim import *\nimport numpy as np\nfrom math import tau as T",
    "RADIUS = 1.2\nACCENT = interpolate_color(RED, YELLOW, 0.4)\nconfig.media_width = '55%'\n"
    "config.background_color = '#1e2a3a'",
    "def dot_at(k, n):\n    return Dot(RADIUS * np.array([np.cos(T * k / n), np.sin(T * k / n), 0]), color=ACCENT, radius=0.2)\n\n"
    "def ring_of_dots(n):\n    return VGroup(*[dot_at(k, n) for k in range(n)])\n",
    "class Badge(VGroup):\n    def __init__(self, n=6, **kwargs):\n"
    "        super().__init__(Square(side_length=RADIUS, color=ACCENT), ring_of_dots(n), **kwargs)\n",
]
SCENE = "class BadgeScene(Scene):\n    def construct(self):\n        self.add(Badge(5))\n"


def png_pixels(output_data: dict):
    import numpy
    from PIL import Image

    return numpy.asarray(Image.open(io.BytesIO(base64.b64decode(output_data["image/png"]))).convert("RGB"), dtype=float)


def image_of(cell) -> dict:
    [data] = [o["data"] for o in cell.outputs if "image/png" in o.get("data", {})]
    return data


def test_a_manim_style_notebook_renders_its_definitions_with_the_cell(run_cells, tmp_path):
    nb = run_cells([
        *SETUP,
        f"%%manim -s -ql -v WARNING BadgeScene\n{SCENE}",                    # 5
        f"%%kodisc -s -ql BadgeScene\n{SCENE}",                               # 6
        "RADIUS = 2.5",                                                       # 7
        f"%%kodisc -s -ql BadgeScene\n{SCENE}",                               # 8
        "log = open('notes.txt', 'w')",                                       # 9
        "%%kodisc -ql\nclass Logs(Scene):\n    def construct(self):\n        log.write('x')\n        self.add(Badge())\n",
        f"%%kodisc --show-code BadgeScene\n{SCENE}",                          # 11
        "def broken():\n    x = 1\n    return x / 0\n",                       # 12
        "%%kodisc -ql\nclass Fails(Scene):\n    def construct(self):\n        self.add(Badge())\n        broken()\n",
        "%%kodisc -ql\nclass Player(Scene):\n    def construct(self):\n        self.play(FadeIn(Badge(3)), run_time=0.2)\n",
        "%%kodisc -ql\nclass Oops(Scene):\n    def construct(self):\n        self.add(Circle(radius=RADIUS / 0))\n",
    ], timeout=240)
    cells = nb.cells
    for number in (5, 6, 8, 14):
        assert error_of(cells[number]) is None, text_of(cells[number])

    # The summary says what the notebook added.
    summary = "with ACCENT, RADIUS, dot_at(), ring_of_dots(), Badge, config.background_color from the notebook"
    assert summary in text_of(cells[6]), text_of(cells[6])

    # %%kodisc -s gives %%manim -s's last frame (decoded from the video: H.264 shifts a flat colour by a level
    # and blurs edges), and after RADIUS changes, a new picture (not the cached one). The code sent gives
    # %%manim's exact pixels under the bare CLI (the end of this test).
    manim, kodisc, bigger = (png_pixels(image_of(cells[n])) for n in (5, 6, 8))
    assert manim.shape == kodisc.shape == (480, 854, 3)
    def off(picture):  # the share of pixels more than 40 levels away from %%manim's (a colour shift is less)
        return (abs(picture - manim).max(axis=2) > 40).mean()

    same, changed = off(kodisc), off(bigger)
    assert same < 0.004 and changed > 4 * same, (same, changed)  # measured: 0.0015 (edges) and 0.019
    assert "cached" not in text_of(cells[8])

    # A value that cannot travel: one line naming it and why; nothing was sent.
    error = error_of(cells[10])["traceback"]
    assert len(error) == 1 and "'log' cannot be sent with the cell: it is an open file" in error[0], error

    # --show-code shows the code a render would send, and sends nothing.
    shown = text_of(cells[11])
    assert "RADIUS = 2.5" in shown and "class Badge(VGroup):" in shown and "<video" not in shown

    # A render failure names the line where the user wrote it: the helper's cell, not the code sent.
    error = error_of(cells[13])["traceback"][0]
    assert "ZeroDivisionError: division by zero (In [13] line 3: return x / 0)" in error, error
    # ... and a failure in the cell itself names the cell's own line, not the line of the code sent.
    error = error_of(cells[15])["traceback"][0]
    assert "ZeroDivisionError: float division by zero (line 3: self.add(Circle(radius=RADIUS / 0)))" in error, error

    # config.media_width set in an earlier cell sizes the player, as under %%manim (and its background_color
    # colours the picture: the frames above compare equal).
    assert "width:55%" in text_of(cells[14]).replace(" ", ""), text_of(cells[14])

    from kodisc_jupyter.rendering.history import History

    rows = History(run_cells.home / "history.sqlite3").list(limit=50)
    assert sorted(row.class_name for row in rows) == ["BadgeScene", "BadgeScene", "Fails", "Oops", "Player"]  # no Logs
    first, second = sorted((row for row in rows if row.class_name == "BadgeScene"), key=lambda row: row.created_at)
    assert "RADIUS = 1.2\n" in first.code and "RADIUS = 2.5\n" in second.code

    # `kodisc render NOTEBOOK` cannot know a computed value without a kernel, and says so for each cell
    # that uses it (nothing is sent); a cell that uses none is planned as usual.
    listed = subprocess.run([sys.executable, "-m", "kodisc_jupyter", "render", "--dry-run", str(run_cells.work / "test.ipynb")],
                            capture_output=True, text=True, timeout=120, env=kernel_env(run_cells.home, None))
    assert listed.returncode != 0
    assert "test.ipynb cell 7: 'ACCENT' is computed in cell 3 (line 2): only running the notebook knows its value " \
        "(execute it, or assign a literal)\n" in listed.stderr, listed.stderr

    # The code sent is self-contained: the bare Manim CLI renders it alone to %%manim's very frame.
    scene_file = tmp_path / "sent.py"
    scene_file.write_text(first.code, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "manim", "render", "-ql", "-s", "--media_dir", str(tmp_path / "media"),
                    "-o", "bare", str(scene_file), "BadgeScene"], check=True, capture_output=True, timeout=180,
                   cwd=tmp_path, env=kernel_env(run_cells.home, None))
    [bare_png] = (tmp_path / "media").rglob("bare*.png")
    bare = png_pixels({"image/png": base64.b64encode(bare_png.read_bytes())})
    assert (bare == manim).all()


def test_a_failed_renders_lines_are_the_preludes_the_notebooks_and_the_cells(run_cells, sim_server):
    """Against a Kodisc stand-in (the simulated server), an error that counts the lines of the code sent
    (prelude, the notebook's value, the cell) reads in the lines the user wrote."""
    failure = 'ValueError: bad (line 8: self.add(Square(R)))\\n  File \\"scene.py\\", line 2, in <module>'
    nb = run_cells([
        "%load_ext kodisc_jupyter",
        "%%kodisc_prelude\nfrom manim import *\nconfig.background_color = BLACK\n",
        "R = 3",
        f"%%kodisc -ql {simulate(0.1, fail=failure)}\nclass P(Scene):\n    def construct(self):\n        self.add(Square(R))\n",
    ], server=sim_server)
    shown = text_of(nb.cells[3])
    assert "ValueError: bad (line 3: self.add(Square(R)))" in shown, shown
    assert 'File "scene.py", prelude line 2, in' in shown.replace("&quot;", '"').replace("&#x27;", "'"), shown
    from kodisc_jupyter.rendering.history import History

    [job] = History(run_cells.home / "history.sqlite3").list(limit=10)
    assert job.code == "from manim import *\nconfig.background_color = BLACK\n\nR = 3\n\n" + \
        "class P(Scene):\n    def construct(self):\n        self.add(Square(R))\n"

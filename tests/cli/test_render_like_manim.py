"""`kodisc render` gives the frames Manim's own CLI gives: a TeX-heavy teaching scene, rendered both
ways at -ql (where our frame used to be 0.08% wider than Manim's) and compared frame by frame."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kodisc_jupyter.cli.exit_codes import EXIT_BAD_INPUT, EXIT_OK

#: Every TeX feature teachers reach for first: MathTex parts coloured with set_color_by_tex, Axes with
#: numbers, axis labels and a graph label, a DecimalNumber with an updater, Brace text and a Tex
#: paragraph, on a NumberPlane (whose grid shows any zoom).
LESSON = r'''from manim import *


class Lesson(Scene):
    def construct(self):
        self.add(NumberPlane(background_line_style={"stroke_opacity": 0.3}))
        formula = MathTex("a^2", "+", "b^2", "=", "c^2").to_corner(UL)
        formula.set_color_by_tex("c^2", YELLOW)
        axes = Axes(x_range=[0, 3], y_range=[0, 9, 3], x_length=4, y_length=3,
                    axis_config={"include_numbers": True}).to_edge(RIGHT)
        graph = axes.plot(lambda x: x ** 2, color=BLUE)
        labels = VGroup(axes.get_axis_labels(x_label="x", y_label="y"), axes.get_graph_label(graph, "x^2"))
        tracker = ValueTracker(0)
        number = DecimalNumber(0, num_decimal_places=2).to_edge(DOWN)
        number.add_updater(lambda d: d.set_value(tracker.get_value()))
        line = Line(LEFT * 2, RIGHT * 2).shift(DOWN * 1.5 + LEFT * 3)
        brace = Brace(line, DOWN)
        note = Tex(r"A paragraph of \emph{text}, with $a^2+b^2=c^2$.").scale(0.6).to_edge(LEFT).shift(UP)
        self.add(formula, axes, graph, labels, number, line, brace, brace.get_text("4 units"), note)
        self.play(tracker.animate.set_value(2.5), run_time=0.4)
'''


def kodisc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kodisc_jupyter", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=240)


def frames(video: Path) -> list:
    import av

    with av.open(str(video)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


@pytest.mark.render
def test_a_tex_lesson_renders_frame_for_frame_as_under_manims_cli(tmp_path, isolated_kodisc_env):
    (tmp_path / "lesson.py").write_text(LESSON)
    ours = kodisc("render", "lesson.py", "-ql", cwd=tmp_path)
    assert ours.returncode == EXIT_OK, ours.stderr
    manim = subprocess.run([sys.executable, "-m", "manim", "-ql", "--disable_caching", "--progress_bar", "none",
                            "-v", "WARNING", "--media_dir", "manim-media", "lesson.py", "Lesson"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert manim.returncode == 0, manim.stderr
    theirs = frames(tmp_path / "manim-media/videos/lesson/480p15/Lesson.mp4")
    mine = frames(tmp_path / "Lesson.mp4")
    assert len(mine) == len(theirs) >= 6
    assert mine[0].shape == (480, 854, 3)
    different = [index for index, (a, b) in enumerate(zip(mine, theirs, strict=True)) if not (a == b).all()]
    assert not different, f"frames {different} differ from Manim's"

    # -s: the last frame as a PNG, as Manim's -s gives it (decoded from the video, as %%kodisc -s shows it)
    still = kodisc("render", "lesson.py", "-ql", "-s", cwd=tmp_path)
    assert still.returncode == EXIT_OK, still.stderr
    assert still.stdout.startswith("Saved Lesson.png (reused the cached render of job ")
    from PIL import Image

    with Image.open(tmp_path / "Lesson.png") as image:
        assert image.format == "PNG" and (image.convert("RGB").tobytes() == theirs[-1].tobytes())


def test_save_last_frame_wants_a_png_and_a_finished_render(tmp_path):
    (tmp_path / "s.py").write_text("from manim import *\n\nclass S(Scene):\n    def construct(self):\n        self.wait()\n")
    for args, message in ((("-s", "-o", "s.mp4"), "-o must name a .png file with -s"),
                          (("-o", "s.png"), "-o must name a .mp4 file"),
                          (("-s", "--no-wait"), "-s saves the finished render's last frame")):
        result = kodisc("render", "s.py", *args, cwd=tmp_path)
        assert result.returncode == EXIT_BAD_INPUT and message in result.stderr, result.stderr


def test_render_prints_the_preflight_warnings_before_sending(sim_server, monkeypatch, tmp_path):
    user = sim_server.create_user(credits=50)
    monkeypatch.setenv("KODISC_API_KEY", user.api_key)  # a Kodisc stand-in: it cannot read the file beside
    monkeypatch.setenv("KODISC_BASE_URL", sim_server.base_url)
    (tmp_path / "diagram.png").write_bytes(b"not really a png")
    (tmp_path / "pic.py").write_text('from manim import *\n\nclass Pic(Scene):\n    def construct(self):\n'
                                     '        self.add(ImageMobject("diagram.png"))\n')
    result = kodisc("render", "pic.py", cwd=tmp_path)
    assert result.returncode == EXIT_OK, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("kodisc: warning: ")]
    assert len(warnings) == 1 and "line 5: ImageMobject('diagram.png')" in warnings[0], result.stderr
    assert result.stderr.index("kodisc: warning") < result.stderr.index("submitting")


@pytest.mark.render
def test_a_file_beside_the_scene_renders_on_the_embedded_server(tmp_path, isolated_kodisc_env):
    lesson = tmp_path / "lesson"
    lesson.mkdir()
    (lesson / "data.csv").write_text("0,0\n1,1\n2,0.5\n")
    (lesson / "plot.py").write_text('from manim import *\nimport numpy as np\n\nclass Plot(Scene):\n'
                                    '    def construct(self):\n'
                                    '        self.add(*(Dot([x, y, 0]) for x, y in np.loadtxt("data.csv", delimiter=",")))\n')
    result = kodisc("render", "lesson/plot.py", "-ql", "-s", cwd=tmp_path)  # run from elsewhere: FILE's folder counts
    assert result.returncode == EXIT_OK, result.stderr
    assert "warning" not in result.stderr and (tmp_path / "Plot.png").stat().st_size > 0
    again = kodisc("render", "lesson/plot.py", "-ql", "-s", cwd=tmp_path)
    assert "reused the cached render" in again.stdout, again.stdout + again.stderr
    (lesson / "data.csv").write_text("0,0\n1,2\n")  # the file changed, not the code: it renders anew
    changed = kodisc("render", "lesson/plot.py", "-ql", "-s", cwd=tmp_path)
    assert changed.returncode == EXIT_OK and "reused" not in changed.stdout, changed.stdout + changed.stderr

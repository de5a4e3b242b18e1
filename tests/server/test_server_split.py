"""A scene split across workers gives the video the bare `manim` CLI gives, byte for byte.

One server with two warm workers and the split threshold lowered, so that tiny scenes at -ql split.
Each scene is rendered by it and by `manim render -ql` in a fresh folder, and the two MP4 files are
compared: the same bytes, so the same frames, encoded alike (the workers hand frames to the encoder
their own way: `_frame_pool`).
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from server_helpers import User

pytestmark = pytest.mark.render

PLAIN = """\
from manim import *

class Plain(Scene):
    def construct(self):
        square = Square(color=BLUE)
        self.play(Create(square), run_time=0.6)
        self.play(Transform(square, Circle(color=RED)), run_time=0.6)
        self.play(square.animate.shift(LEFT * 2).scale(0.5), run_time=0.6)
        self.play(FadeIn(Triangle(color=GREEN).shift(RIGHT * 2)), run_time=0.6)
        self.play(Rotate(square, PI / 3), run_time=0.6)
        self.play(FadeOut(square), run_time=0.6)
"""
# each frame's step depends on the speed the frames before built up: a one-step skip lands elsewhere
UPDATERS = """\
from manim import *

class Drift(Scene):
    def construct(self):
        dot = Dot(color=RED).shift(LEFT * 4)
        speed = [0.5]

        def drift(mobject, dt):
            speed[0] *= 1 + 2 * dt
            mobject.shift(RIGHT * dt * speed[0])
            mobject.rotate(dt * speed[0])

        square = Square(side_length=0.5, color=YELLOW)
        square.add_updater(lambda m, dt: m.rotate(dt * speed[0]))
        dot.add_updater(drift)
        self.add(dot, square)
        self.play(Create(Circle()), run_time=0.6)
        self.play(FadeIn(Star().shift(UP * 2)), run_time=0.6)
        self.play(Create(Triangle().shift(DOWN * 2)), run_time=0.6)
        self.play(Indicate(square), run_time=0.6)
        self.play(FadeOut(Circle()), run_time=0.6)
"""
REDRAW = """\
from manim import *

class Redraw(Scene):
    def construct(self):
        dot = Dot(LEFT * 3, color=BLUE)
        line = always_redraw(lambda: Line(ORIGIN, dot.get_center(), color=ORANGE))
        label = always_redraw(lambda: Dot(dot.get_center() + UP * 0.5, color=GREEN))
        self.add(line, label, dot)
        self.play(dot.animate.move_to(UP * 2), run_time=0.6)
        self.play(dot.animate.move_to(RIGHT * 3), run_time=0.6)
        self.play(Rotate(dot, PI, about_point=ORIGIN), run_time=0.6)
        self.play(dot.animate.move_to(DOWN * 2), run_time=0.6)
        self.play(dot.animate.move_to(LEFT), run_time=0.6)
"""
WAITS = """\
from manim import *

class Waits(Scene):
    def construct(self):
        circle = Circle(color=PURPLE)
        self.play(Create(circle), run_time=0.5)
        self.wait(0.4)
        self.play(circle.animate.set_fill(PURPLE, opacity=0.5), run_time=0.5)
        self.wait()
        self.play(circle.animate.shift(RIGHT * 2), run_time=0.5)
        self.wait(0.3)
        self.play(FadeOut(circle), run_time=0.5)
"""
SCENES = {"Plain": PLAIN, "Drift": UPDATERS, "Redraw": REDRAW, "Waits": WAITS}
# Every animation _faithful jumps over in one step (its _EXACT_JUMPS), and some it must step through
# (MoveAlongPath, Wiggle, ChangeDecimalToValue): a cached re-render must reach the same hashes
KINDS = """\
from manim import *

class Kinds(Scene):
    def construct(self):
        title = Text("Kinds", color=BLUE).to_edge(UP)
        self.play(Write(title), run_time=0.3)
        square = Square(color=RED)
        self.play(Create(square), run_time=0.3)
        self.play(Rotate(square, PI / 3), square.animate.set_color(GREEN), run_time=0.3)
        circle = Circle(color=YELLOW, fill_opacity=0.5).shift(RIGHT * 2)
        self.play(DrawBorderThenFill(circle), GrowFromCenter(Dot(LEFT * 2)), run_time=0.3)
        dot = Dot(color=ORANGE).move_to(circle.point_at_angle(0))
        self.play(FadeIn(dot, shift=UP), run_time=0.3)
        self.play(MoveAlongPath(dot, circle), run_time=0.3)
        self.play(Indicate(title), Wiggle(square), run_time=0.3)
        self.play(LaggedStart(*[FadeIn(Star().scale(0.3).shift(DOWN * 2 + RIGHT * i)) for i in range(3)]),
                  run_time=0.3)
        self.play(Transform(square, Triangle(color=PURPLE)), SpiralIn(VGroup(Square(0.3), Circle(0.2))),
                  run_time=0.3)
        number = DecimalNumber(0).shift(DOWN)
        self.play(ChangeDecimalToValue(number, 5), ApplyWave(title), run_time=0.3)
        self.play(Circumscribe(circle), ShowPassingFlash(Line(LEFT, RIGHT)), run_time=0.3)
        self.play(FadeOut(square), Uncreate(circle), run_time=0.3)
        arrow = Arrow(LEFT, RIGHT)
        self.play(GrowArrow(arrow), Flash(ORIGIN), GrowFromPoint(Square(0.4), UP), run_time=0.3)
        self.play(ReplacementTransform(arrow, Circle(0.5)), Unwrite(title), run_time=0.3)
        self.play(Succession(Create(Line(UP, DOWN)), FadeOut(dot)), run_time=0.3)
"""


@pytest.fixture(scope="module")
def split_server(tmp_path_factory):
    """Two workers, both warm, splitting any scene of 2+ animations."""
    from kodisc_jupyter.server import start_local_server

    with start_local_server(tmp_path_factory.mktemp("split-server"), renderer="manim", workers=2, warm=2,
                            split_min_animations=2, split_min_frames=2) as server:
        yield server


def _splitter(server):
    return server._runner.renderer.splitter


def _frames(video: Path) -> list:
    import av

    with av.open(str(video)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def _bare_cli(code: str, class_name: str, folder: Path) -> Path:
    folder.mkdir()
    (folder / "scene.py").write_text(code)
    manim = str(Path(sys.executable).with_name("manim"))
    subprocess.run([manim, "render", "-ql", "--media_dir", "media", "--progress_bar", "none", "scene.py", class_name],
                   cwd=folder, check=True, capture_output=True)
    return folder / "media" / "videos" / "scene" / "480p15" / f"{class_name}.mp4"


def _render(server, code: str, class_name: str, target: Path) -> Path:
    user = User(server)
    try:
        job = user.wait(user.submit(code, class_name), timeout=180)
        assert job.status == "completed", job.error
        target.write_bytes(httpx.get(job.result.video).content)
    finally:
        user.close()
    return target


@pytest.mark.parametrize("class_name", sorted(SCENES))
def test_a_split_render_is_the_video_manim_makes(split_server, tmp_path, class_name):
    splitter = _splitter(split_server)
    runs = splitter.runs
    ours = _render(split_server, SCENES[class_name], class_name, tmp_path / "ours.mp4")
    bare = _bare_cli(SCENES[class_name], class_name, tmp_path / "bare")
    assert splitter.runs == runs + 1  # it did split
    assert len(_frames(bare)) > 20
    assert ours.read_bytes() == bare.read_bytes()  # the same encoded video, not merely the same frames


def test_helpers_render_part_of_a_split_scene(split_server, tmp_path):
    """With both workers warm, the helper renders some of a split scene's partial movies."""
    splitter = _splitter(split_server)
    helped = splitter.helped
    code = PLAIN.replace("Plain", "Helped").replace("run_time=0.6", "run_time=1.2")
    _render(split_server, code, "Helped", tmp_path / "helped.mp4")
    assert splitter.helped > helped


def test_a_split_render_reports_progress_that_never_goes_back(split_server, tmp_path):
    """Progress counts the animations finished on every worker, and never decreases."""
    code = PLAIN.replace("Plain", "Counted").replace("run_time=0.6", "run_time=1.5")
    user = User(split_server)
    job_id = user.submit(code, "Counted")
    seen = []
    deadline = time.monotonic() + 180
    while not (job := user.job(job_id)).done and time.monotonic() < deadline:
        if job.progress is not None:
            seen.append((job.progress.animations, job.progress.seconds))
        time.sleep(0.05)
    user.close()
    assert job.status == "completed", job.error
    assert seen and seen == sorted(seen)
    assert all(animations <= 6 for animations, _ in seen)


def test_a_scene_error_in_a_split_render_fails_the_job_with_that_error(split_server):
    code = PLAIN.replace("Plain", "Broken").replace("self.play(Rotate(square, PI / 3), run_time=0.6)",
                                                    "raise ValueError('no rotation today')")
    user = User(split_server)
    runs = _splitter(split_server).runs
    job = user.wait(user.submit(code, "Broken"), timeout=180)
    user.close()
    assert _splitter(split_server).runs == runs + 1
    assert job.status == "failed"
    assert job.error.startswith("ValueError: no rotation today (line ")


@pytest.mark.parametrize("class_name", ["Plain", "Drift", "Kinds"])
def test_an_identical_re_render_renders_nothing_and_gives_the_same_video(split_server, tmp_path, class_name):
    """Every partial movie cached: skipped animations (Plain: one exact jump each; Drift: stepped through,
    its updaters need every frame; Kinds: both) reach the hashes of the first render, so nothing renders again."""
    code = {**SCENES, "Kinds": KINDS}[class_name].replace(f"class {class_name}(", f"class Again{class_name}(")
    cache_root = split_server._runner.renderer.cache.root

    def partial_movies() -> set[str]:
        return {path.name for path in cache_root.rglob("*.mp4")}

    first = _frames(_render(split_server, code, f"Again{class_name}", tmp_path / "first.mp4"))
    cached = partial_movies()
    again = _frames(_render(split_server, code, f"Again{class_name}", tmp_path / "again.mp4"))
    assert partial_movies() == cached
    assert len(first) == len(again) and all((a == b).all() for a, b in zip(first, again, strict=True))


def test_the_timeout_covers_the_whole_split_render(tmp_path):
    """A split whose scene hangs after its animations is stopped at the render timeout, all workers with it."""
    from kodisc_jupyter.server import start_local_server

    code = PLAIN.replace("Plain", "Hangs").replace("self.play(FadeOut(square), run_time=0.6)",
                                                   "import time\n        time.sleep(120)")
    with start_local_server(tmp_path / "server", renderer="manim", workers=2, warm=2, render_timeout=6,
                            split_min_animations=2, split_min_frames=2) as server:
        user = User(server)
        started = time.monotonic()
        job = user.wait(user.submit(code, "Hangs"), timeout=120)
        elapsed = time.monotonic() - started
        user.close()
        assert server._runner.renderer.splitter.runs == 1
    assert job.status == "failed" and "longer than 6 s" in job.error
    assert elapsed < 25


def test_a_split_gives_its_helper_back_when_another_job_waits(split_server):
    """Both workers busy with one split render: a job queued meanwhile gets the helper's worker once the
    helper finished the animation in hand, and is done long before the split render (which completes on its
    final worker, rendering what the helper left)."""
    long = "\n".join(["from manim import *", "", "class Long(Scene):", "    def construct(self):",
                      "        square = Square()"] +
                     [f"        self.play(square.animate.shift(RIGHT * 0.0{i}).rotate(0.3), run_time=1)"
                      for i in range(20)])
    user = User(split_server)
    splitter = _splitter(split_server)
    runs, helped = splitter.runs, splitter.helped
    long_id = user.submit(long, "Long")
    deadline = time.monotonic() + 120
    while splitter.runs == runs and time.monotonic() < deadline:
        time.sleep(0.02)
    short_id = user.submit(PLAIN.replace("Plain", "Short").split("        self.play(Transform")[0], "Short")
    finished = []
    while len(finished) < 2 and time.monotonic() < deadline:
        finished += [job_id for job_id in (short_id, long_id) if job_id not in finished and user.job(job_id).done]
        time.sleep(0.05)
    jobs = [user.job(job_id) for job_id in (short_id, long_id)]
    user.close()
    assert all(job.status == "completed" for job in jobs), [job.error for job in jobs]
    assert finished == [short_id, long_id]
    assert splitter.helped - helped < 10  # it stopped early: without the short job it renders about half of 20


def test_a_scene_writing_on_the_claims_pipe_fails_its_own_job_only(split_server):
    """A hostile scene finds the worker's pipe to the server and writes on it: its job fails with one clear
    line, and the server renders the next job as ever."""
    from kodisc_jupyter.server._split import FORGED

    forger = PLAIN.replace("Plain", "Forger").replace("        self.play(Transform", """\
        import fcntl, os
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            try:
                if fd > 2 and os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:") and \\
                        fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:
                    os.write(fd, b"c 999999999\\n")
            except OSError:
                pass
        self.play(Transform""", 1)
    user = User(split_server)
    runs = _splitter(split_server).runs
    forged = user.wait(user.submit(forger, "Forger"), timeout=120)
    after = user.wait(user.submit(), timeout=120)
    user.close()
    assert _splitter(split_server).runs == runs + 1
    assert forged.status == "failed" and forged.error == FORGED
    assert after.status == "completed", after.error

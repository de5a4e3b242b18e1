"""P8: lesson-length scenes rendered through our server (split across its idle workers) vs the bare `manim` CLI.

Side by side in one run, medians of the runs: a 24-animation lesson at -qm and a 12-animation one at
-qh, each round with new colours so that no partial movie of an earlier round answers (neither
Manim's cache nor ours). Rows: the bare CLI (`manim render` in a fresh media folder: it imports
Manim, hashes and caches as it always does), our server with its defaults (the split on, the
default workers and warm workers), and the same server with `split=False`. The ideal for the
core count is the bare CLI's time / cores plus the concatenation of its partial movies (measured:
Manim's concat of the bare run's own partial movies); the gap is ours over the ideal. The bare CLI
already keeps more than one core busy (Manim encodes on other threads than it draws on), so the
ideal is below what any split of its work reaches: its CPU time / cores is printed beside it (a
split saves Manim's import, ~1.5 CPU-s, and pays for stepping through what other workers draw). Goal: the
split <= 0.6x the bare CLI at -qm and at -qh. Between renders it waits WARM_PAUSE s, as a person
reading the result would, so the server's warm workers are ready again.

`python benchmarks/p8_split.py` (about 4 minutes on an idle 2-core machine); `--quick` for one
round of each (to check that it works).
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from benchlib import median, print_table, workdir

WARM_PAUSE = 3.0
PALETTE = ["BLUE", "RED", "GREEN", "YELLOW", "PURPLE", "ORANGE", "TEAL", "PINK", "MAROON", "GOLD", "WHITE"]
LESSON = '''
from manim import *

class Lesson(Scene):
    def construct(self):
        colors = [{colors}]
        title = Text("Shapes and motion", color=colors[0]).to_edge(UP)
        self.play(Write(title), run_time=1)
        shapes = VGroup(*[RegularPolygon(n, color=colors[n % 6], fill_opacity=0.5).scale(0.6) for n in range(3, 9)])
        shapes.arrange(RIGHT, buff=0.4)
        for shape in shapes:
            self.play(Create(shape), run_time=0.6)
        self.wait(0.5)
        for shape in shapes[:{turns}]:
            self.play(Rotate(shape, PI / 2), shape.animate.set_color(colors[1]), run_time=0.6)
        self.play(shapes.animate.arrange(DOWN, buff=0.2).scale(0.6).to_edge(LEFT), run_time=1)
        circle = Circle(radius=2, color=colors[2], fill_opacity=0.3)
        self.play(DrawBorderThenFill(circle), run_time=1)
        dot = Dot(color=colors[3]).move_to(circle.point_at_angle(0))
        self.play(FadeIn(dot), run_time=0.5)
        self.play(MoveAlongPath(dot, circle), run_time=1.5)
        self.wait(0.5)
        label = Text("a circle", color=colors[4]).next_to(circle, DOWN)
        self.play(FadeIn(label, shift=UP), run_time=0.6)
        self.play(Indicate(label), run_time=0.8)
        self.play(FadeOut(shapes), FadeOut(label), run_time=0.6)
        self.play(circle.animate.scale(0.5).set_color(colors[5]), run_time=0.8)
        self.play(FadeOut(title), FadeOut(circle), FadeOut(dot), run_time=0.6)
'''
#: (label, Manim's flags, API quality, rotations: 6 -> 24 animations, 0 -> 18, runs). Manim's -qh is 60 fps and
#: Kodisc's high 30, so the bare CLI is given 30: both render the same frames.
CASES = [("24-animation lesson, -qm", ["-qm"], "medium", 6, 3),
         ("18-animation lesson, -qh at 30 fps", ["-qh", "--frame_rate", "30"], "high", 0, 2)]
MANIM = str(Path(sys.executable).with_name("manim"))


def lesson(round_no: int, turns: int) -> str:
    """The lesson in this round's colours (no two rounds share a partial movie)."""
    colors = [PALETTE[(round_no + i) % len(PALETTE)] for i in range(6)]
    return LESSON.format(colors=", ".join(colors), turns=turns)


def bare_cli(code: str, folder: Path, flags: list[str]) -> tuple[float, float, float]:
    """`manim render` in a fresh folder: its wall time, its CPU time (all its threads), and the time Manim's
    concat takes on its partial movies."""
    folder.mkdir(parents=True)
    (folder / "scene.py").write_text(code)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([MANIM, "render", *flags, "--media_dir", "media", "scene.py", "Lesson"], cwd=folder,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"P8: manim failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return elapsed, cpu, concat_seconds(folder / "media")


def concat_seconds(media: Path) -> float:
    """Manim's own concat (its combine_files) of a finished render's partial movies, timed."""
    import av  # Manim's dependency: the concat demuxer, packets copied as Manim copies them

    manifest = next(media.rglob("partial_movie_file_list.txt"))
    started = time.perf_counter()
    with av.open(str(manifest), format="concat", options={"safe": "0"}) as source, \
            av.open(str(media / "concat.mp4"), mode="w") as target:
        stream = source.streams.video[0]
        out = target.add_stream_from_template(template=stream)
        for packet in source.demux(stream):
            if packet.dts is None:
                continue
            packet.dts = None
            packet.stream = out
            target.mux(packet)
    return time.perf_counter() - started


def through_server(client, code: str, quality: str) -> float:
    started = time.perf_counter()
    job = client.render_and_wait(code, "Lesson", quality=quality)
    elapsed = time.perf_counter() - started
    if job.status != "completed":
        raise SystemExit(f"P8: the server failed the lesson: {job.error}")
    return elapsed


def main() -> None:
    from kodisc_jupyter import Kodisc, start_local_server
    from kodisc_jupyter.rendering.backend import local_poll_policy

    quick = "--quick" in sys.argv
    cores = os.cpu_count() or 1
    rows = []
    with workdir("p8") as tmp:
        bare_cli(lesson(99, 0), tmp / "warmup", ["-ql"])  # file-system caches, fonts
        with start_local_server(tmp / "split") as split, start_local_server(tmp / "one", split=False) as one, \
                Kodisc(split.api_key, base_url=split.base_url, poll_policy=local_poll_policy()) as on_split, \
                Kodisc(one.api_key, base_url=one.base_url, poll_policy=local_poll_policy()) as on_one:
            round_no = 0
            for label, flag, quality, turns, runs in CASES:
                bare, cpu, concat, ours, unsplit = [], [], [], [], []
                for _ in range(1 if quick else runs):
                    round_no += 1
                    seconds, busy, joined = bare_cli(lesson(round_no, turns), tmp / f"bare-{round_no}", flag)
                    bare.append(seconds)
                    cpu.append(busy)
                    concat.append(joined)
                    time.sleep(WARM_PAUSE)
                    ours.append(through_server(on_split, lesson(round_no, turns), quality))
                    time.sleep(WARM_PAUSE)
                    unsplit.append(through_server(on_one, lesson(round_no, turns), quality))
                    time.sleep(WARM_PAUSE)
                b, o, u, c = median(bare), median(ours), median(unsplit), median(concat)
                ideal, spread = b / cores + c, median(cpu) / cores
                rows.append([label, b, u, o, f"{o / b:.2f}x", f"{ideal:.2f} ({ideal / b:.2f}x)",
                             f"{o / ideal:.2f}x", f"{spread:.2f} ({spread / b:.2f}x)", "<= 0.6x"])
    print_table(f"P8 split renders vs bare Manim (seconds, medians; {cores} cores; ideal = bare/cores + concat)",
                ["scene", "bare manim", "server, one worker", "server, split", "split/bare", "ideal",
                 "split/ideal", "bare CPU / cores", "goal"], rows)


if __name__ == "__main__":
    main()

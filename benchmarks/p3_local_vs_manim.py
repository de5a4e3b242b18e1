"""P3: a local render through our server vs the bare `manim` CLI, same scenes, same quality.

The overhead a user pays for going through the local Kodisc (HTTP, queue, subprocess, thumbnail,
captions, polling) instead of running `manim -ql` themselves. Each scene is rendered RUNS times
both ways, in a fresh media folder each time (no Manim cache); medians. The server runs with one
worker so renders never overlap.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from benchlib import median, print_table, workdir

RUNS = 3
SCENES = {
    "StillText": """
from manim import *

class StillText(Scene):
    def construct(self):
        self.add(Text("Kodisc"))
        self.wait(0.5)
""",
    "DrawCircle": """
from manim import *

class DrawCircle(Scene):
    def construct(self):
        self.play(Create(Circle(color=BLUE)), run_time=1)
""",
    "SquareToCircle": """
from manim import *

class SquareToCircle(Scene):
    def construct(self):
        square = Square()
        self.play(Create(square), run_time=0.5, subcaption="A square")
        self.play(Transform(square, Circle()), run_time=1, subcaption="becomes a circle")
""",
}


def manim_cli_seconds(code: str, class_name: str, folder: Path) -> float:
    """`manim render -ql` on a file, in a fresh media dir; wall time of the whole command."""
    folder.mkdir(parents=True)
    scene_file = folder / "scene.py"
    scene_file.write_text(code)
    manim = Path(sys.executable).with_name("manim")
    command = [str(manim), "render", "-ql", "--media_dir", str(folder / "media"), str(scene_file), class_name]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"P3: manim failed on {class_name}:\n{done.stderr[-2000:]}")
    return elapsed


def server_seconds(client, code: str, class_name: str) -> tuple[float, float]:
    """POST -> completed seen by the client (what a user waits for), and the server's durationMs."""
    started = time.perf_counter()
    job = client.render_and_wait(code, class_name, quality="low")
    elapsed = time.perf_counter() - started
    return elapsed, (job.duration_ms or 0) / 1000


def main() -> None:
    from kodisc_jupyter import Kodisc, start_local_server
    from kodisc_jupyter.backend import local_poll_policy  # what the embedded default polls with

    rows = []
    with workdir("p3") as tmp, start_local_server(tmp / "server", renderer="manim", workers=1) as server, \
            Kodisc(server.api_key, base_url=server.base_url, poll_policy=local_poll_policy()) as client:
        server_seconds(client, SCENES["StillText"], "StillText")  # warm-up: first import of Manim, caches
        manim_cli_seconds(SCENES["StillText"], "StillText", tmp / "warm")
        for class_name, code in SCENES.items():
            cli, through, reported = [], [], []
            for run in range(RUNS):
                cli.append(manim_cli_seconds(code, class_name, tmp / f"{class_name}-{run}"))
                total, duration = server_seconds(client, code, class_name)
                through.append(total)
                reported.append(duration)
            rows.append([class_name, median(cli), median(reported), median(through),
                         f"{median(through) / median(cli):.2f}x"])
    print_table(
        f"P3 local render vs bare `manim render -ql` (seconds, median of {RUNS})",
        ["scene", "manim CLI", "server durationMs", "through server (POST -> completed seen)",
         "ratio server/CLI"],
        rows,
    )


if __name__ == "__main__":
    main()

"""P2: re-running a notebook whose 10 scenes are already rendered.

A 10-scene notebook is executed twice with nbclient, each time on a fresh kernel, sharing one
KODISC_HOME (the history that holds the cache) and one local server (real Manim, `low` quality)
reached the way a Kodisc user reaches Kodisc: KODISC_BASE_URL and KODISC_API_KEY. Per run: POSTs
sent (the server's job count), credits spent (`/me` before and after), and the wall time of the
10 magic cells. The re-run should send nothing and cost nothing.
"""
from __future__ import annotations

from benchlib import cell_seconds, credits_total, execute, kernel_env, median, new_notebook, print_table, workdir

SCENES = 10
SCENE = """%%kodisc Dot{i} -ql
from manim import *

class Dot{i}(Scene):
    def construct(self):
        self.play(FadeIn(Dot(point=RIGHT * {x:.1f}, color=BLUE)), run_time=0.5)
"""


def notebook():
    return new_notebook(["%load_ext kodisc_jupyter"] + [SCENE.format(i=i, x=i / 3 - 1.5) for i in range(SCENES)])


def one_run(server, env, cwd) -> list[object]:
    jobs_before, credits_before = server.job_count(), credits_total(server)
    executed = execute(notebook(), env=env, cwd=cwd)
    magic_seconds = [cell_seconds(cell) for cell in executed.cells[1:]]
    return [server.job_count() - jobs_before, round(credits_before - credits_total(server), 3),
            sum(magic_seconds), median(magic_seconds)]


def main() -> None:
    from kodisc_jupyter import start_local_server

    with workdir("p2") as tmp, start_local_server(tmp / "server", renderer="manim") as server:
        home = tmp / "kodisc-home"
        home.mkdir()
        env = kernel_env(home, server)
        first = one_run(server, env, tmp)
        again = one_run(server, env, tmp)
    print_table(
        f"P2 re-running an already rendered {SCENES}-scene notebook (real Manim, low quality)",
        ["run", "POSTs", "credits spent", f"wall time of the {SCENES} magics (s)", "median per magic (s)"],
        [["first run", *first], ["re-run (fresh kernel, same history)", *again]],
    )


if __name__ == "__main__":
    main()

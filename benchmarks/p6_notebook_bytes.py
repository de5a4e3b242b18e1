"""P6: bytes a render adds to the saved .ipynb, linked (the default) vs `--embed`.

Two small scenes (real Manim, `low` quality, the embedded local server: no key) are each rendered
once linked and once with `--embed --force` in one nbclient run. For each render cell: the bytes
its outputs add to the saved notebook (the notebook written with and without that cell's outputs).
Files the linked renders left beside the notebook are counted too (they travel with it), and so
is the widget state nbclient saves in the notebook's metadata for all the renders together. The
linked output's two players are shown apart: our mime renderer's JSON and the text/html sibling.
"""
from __future__ import annotations

import copy
import json

import nbformat
from benchlib import execute, kernel_env, new_notebook, print_table, workdir

from kodisc_jupyter.jupyter.player import PLAYER_MIME

SCENES = {
    "OneSecond": """from manim import *

class OneSecond(Scene):
    def construct(self):
        self.play(Create(Circle()), run_time=1)
""",
    "TwoSecondsCaptioned": """from manim import *

class TwoSecondsCaptioned(Scene):
    def construct(self):
        square = Square(color=BLUE)
        self.play(Create(square), run_time=1, subcaption="Draw a square")
        self.play(square.animate.rotate(PI / 4), run_time=1, subcaption="Turn it")
""",
}


def bytes_added(notebook, index: int) -> int:
    without = copy.deepcopy(notebook)
    without.cells[index].outputs = []
    return len(nbformat.writes(notebook).encode()) - len(nbformat.writes(without).encode())


def player_bytes(notebook, index: int, mime: str) -> int:
    """The bytes one mime type of the cell's final output takes in the saved notebook (0 if absent)."""
    data = next((o.data for o in notebook.cells[index].outputs if o.get("output_type") == "display_data"
                 and "text/plain" in o.get("data", {}) and "▶" in o.data["text/plain"]), {})
    return len(json.dumps(data[mime], indent=1).encode()) if mime in data else 0


def files_beside(folder) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def main() -> None:
    cells, where = ["%load_ext kodisc_jupyter"], {}
    for name, code in SCENES.items():
        where[name] = (len(cells), len(cells) + 1)
        cells += [f"%%kodisc {name} -ql\n{code}", f"%%kodisc {name} -ql --embed --force\n{code}"]
    with workdir("p6") as tmp:
        home, run_dir = tmp / "kodisc-home", tmp / "notebook"
        home.mkdir()
        run_dir.mkdir()
        executed = execute(new_notebook(cells), env=kernel_env(home), cwd=run_dir)
        beside = files_beside(run_dir)
        rows = [[name, bytes_added(executed, linked), player_bytes(executed, linked, PLAYER_MIME),
                 player_bytes(executed, linked, "text/html"), bytes_added(executed, embedded)]
                for name, (linked, embedded) in where.items()]
        widgets = executed.metadata.get("widgets")
        widget_state = len(json.dumps(widgets, indent=1).encode()) if widgets else 0
    print_table(
        "P6 notebook bytes added per render (real Manim, low quality, embedded local server)",
        ["scene", "linked: bytes in .ipynb", "of which renderer JSON", "of which text/html", "--embed: bytes in .ipynb"],
        rows + [["files left beside the notebook by the linked renders", beside, "", "", "-"],
                [f"widget state in the notebook's metadata (all {len(cells) - 1} renders)", widget_state, "", "", ""]],
    )


if __name__ == "__main__":
    main()

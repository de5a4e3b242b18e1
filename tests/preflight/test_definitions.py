"""The notebook's definitions that travel with a `%%kodisc` cell (cells/definitions.py), and line mapping.

A "kernel" here is a namespace the cells' sources were executed into as a kernel does (`__name__`
is `__main__`); exec'd code has no source in linecache, which is what "without source" means.
"""
from __future__ import annotations

import contextlib
import io
import math
import socket
import textwrap

import pytest

pytest.importorskip("manim")
pytestmark = pytest.mark.manim

from kodisc_jupyter.cells.definitions import MANIM_IMPORT, Unwritable, literal, resolve  # noqa: E402
from kodisc_jupyter.rendering.preflight import LineMap, NotebookCode, join_prelude, preflight  # noqa: E402

CELLS = [
    "from manim import *\nimport numpy as np\nfrom math import tau as T",
    "RADIUS = 2 * 1.5\nACCENT = interpolate_color(RED, BLUE, 0.3)",
    "def dot_at(angle):\n    return Dot(RADIUS * np.array([np.cos(angle), np.sin(angle), 0]), color=ACCENT)\n\n"
    "def ring_of_dots(n):\n    return VGroup(*[dot_at(T * k / n) for k in range(n)])\n",
    "class Badge(VGroup):\n    def __init__(self, **kw):\n        super().__init__(Circle(radius=RADIUS), ring_of_dots(6), **kw)\n",
    "RADIUS = 1.25",  # redefined: the latest value travels
    "import os\nunused = os.getcwd()",
]
SCENE = "class S(Scene):\n    def construct(self):\n        self.add(Badge(), Square())\n"


def kernel(cells: list[str], **extra):
    """(sources, namespace) as a kernel has them after running `cells` in order."""
    namespace = {"__name__": "__main__", **extra}
    for source in cells:
        exec(source, namespace)
    return [(f"In [{number}]", source) for number, source in enumerate(cells, start=1)], namespace


def test_a_class_its_helpers_and_constants_travel_transitively_in_dependency_order():
    sources, namespace = kernel(CELLS)
    result = resolve(SCENE, sources, namespace)
    assert result.problems == ()
    code = result.notebook.code
    assert code.splitlines()[:2] == ["from manim import *", "from math import tau as T"]
    order = [code.index(text) for text in ("RADIUS = 1.25", "ACCENT = ManimColor(", "def dot_at",
                                           "def ring_of_dots", "class Badge")]
    assert order == sorted(order)  # each after what it uses
    assert "RADIUS = 3.0" not in code and "import os" not in code and "unused" not in code  # latest; what is used
    assert result.notebook.names == ("RADIUS", "ACCENT", "dot_at()", "ring_of_dots()", "Badge")
    # The origins say where each line was written.
    origins = dict(zip(code.splitlines(), result.notebook.origins, strict=True))
    assert origins["from manim import *"] == MANIM_IMPORT
    assert origins["from math import tau as T"] == "In [1] line 3"
    assert origins["def ring_of_dots(n):"] == "In [3] line 4"
    assert origins["        super().__init__(Circle(radius=RADIUS), ring_of_dots(6), **kw)"] == "In [4] line 3"
    assert origins["RADIUS = 1.25"] == "the notebook's value of RADIUS"


def test_the_code_sent_renders_the_same_objects_on_its_own():
    """Self-contained: executed alone, the block plus the cell builds what the kernel's names build."""
    sources, namespace = kernel(CELLS)
    result = resolve(SCENE, sources, namespace)
    alone: dict = {}
    exec(join_prelude("", SCENE, result.notebook), alone)
    assert alone["RADIUS"] == namespace["RADIUS"]
    assert list(alone["ACCENT"]._internal_value) == list(namespace["ACCENT"]._internal_value)  # exactly, not via hex
    here, there = alone["ring_of_dots"](5), namespace["ring_of_dots"](5)
    assert [list(dot.get_center()) for dot in here] == [list(dot.get_center()) for dot in there]


def test_a_def_in_a_cell_that_failed_before_reaching_it_is_not_what_travels():
    """IPython keeps each cell's source in linecache (so a function knows its source); `In` keeps the cell
    even when it raised: the function in force is the older one, and its own source travels."""
    import linecache

    namespace = {"__name__": "__main__"}
    cells = ["def f():\n    return 1\n    # the end\n", "1 / 0\ndef f():\n    return 2\n"]
    for number, source in enumerate(cells, start=1):
        filename = f"<ipython-cell-{number}-{id(namespace)}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
        with contextlib.suppress(ZeroDivisionError):
            exec(compile(source, filename, "exec"), namespace)
    sources = [(f"In [{n}]", c) for n, c in enumerate(cells, start=1)]
    assert "return 1" in resolve("y = f()", sources, namespace).notebook.code
    # A comment after the body does not make the first cell's def look stale.
    assert resolve("y = f()", sources[:1], namespace).notebook.origins[-1] == "In [1] line 2"


def test_a_helper_that_uses_a_name_defined_nowhere_is_left_to_the_render():
    sources, namespace = kernel(["from manim import *", "def f():\n    return missing_name\n"])
    result = resolve("class S(Scene):\n    def construct(self):\n        f()\n", sources, namespace)
    assert result.problems == () and "def f():" in result.notebook.code
    # The cell's own unknown name is the pre-flight's: named as defined nowhere.
    uses_nowhere = "class S(Scene):\n    def construct(self):\n        self.add(nowhere)\n"
    report = preflight(uses_nowhere, notebook=resolve(uses_nowhere, sources, namespace).notebook)
    assert report.errors[0].startswith("line 3: name 'nowhere' is not defined in the cell, the prelude or the notebook")
    # ... and a name used only by a travelling helper is not reported.
    assert preflight("class S(Scene):\n    def construct(self):\n        f()\n", notebook=result.notebook).errors == []


def test_an_import_travels_as_the_notebook_wrote_it_and_modules_without_a_cell_by_value():
    sources, namespace = kernel(["import numpy as np\nfrom math import tau as T, pi", "import json as j"])
    namespace["shown_by_run"] = math  # e.g. %run put it there: no source statement, the module is known
    result = resolve("x = np.array([T, pi]) + j.loads('1') + shown_by_run.e", sources, namespace)
    assert result.notebook.code.splitlines() == [
        "from math import tau as T", "import json as j", "import numpy as np", "from math import pi",
        "import math as shown_by_run"]  # in the order the cell's names are resolved (sorted)


def test_a_name_rebound_after_its_import_travels_by_its_value():
    sources, namespace = kernel(["from math import tau as T"])
    namespace["T"] = 7  # changed in a way the sources do not show: the value in force wins
    assert resolve("x = T", sources, namespace).notebook.code == "T = 7"


def test_a_lambda_with_its_own_statement_travels_and_an_alias_of_a_function_too():
    sources, namespace = kernel(["def f(x):\n    return x + 1", "g = f", "h = lambda x: f(x) * 2"])
    code = resolve("y = g(1) + h(2)", sources, namespace).notebook.code
    assert code.index("def f(x):") < code.index("g = f") and "h = lambda x: f(x) * 2" in code
    alone: dict = {}
    exec(code + "\ny = g(1) + h(2)", alone)
    assert alone["y"] == 8


@pytest.mark.parametrize(("setup", "fragment"), [
    ("data = open(__file__)", "'data' cannot be sent with the cell: it is an open file"),
    ("conn = socket.socket()", "'conn' cannot be sent with the cell: it is a socket"),
    ("f = eval('lambda x: x')", "'f' cannot be sent with the cell: it is a lambda without source"),
    ("grid = numpy.zeros((200, 100))", "'grid' cannot be sent with the cell: it is a numpy array of 160 KB (over 100 KB)"),
    ("Made = type('Made', (), {})\nthing = Made()", "'thing' cannot be sent with the cell: it is an instance of Made"),
    ("Made = type('Made', (), {})", "'Made' cannot be sent with the cell: it is a class without source"),
    ("from manim import Dot\ndot = Dot()", "'dot' cannot be sent with the cell: it is an instance of "
                                          "manim.mobject.geometry.arc.Dot, made in the kernel"),
    ("loop = []\nloop.append(loop)", "'loop' cannot be sent with the cell: it contains itself"),
    ("def make(k):\n    def inner(x):\n        return k * x\n    return inner\ntriple = make(3)",
     "'triple' cannot be sent with the cell: it is a function made by another function (a closure)"),
])
def test_a_value_that_cannot_travel_is_one_line_naming_it_and_why(setup, fragment, tmp_path):
    namespace = {"__name__": "__main__", "__file__": str(tmp_path / "x.txt"), "socket": socket, "io": io}
    (tmp_path / "x.txt").write_text("1")
    exec("import numpy\n" + setup, namespace)
    name = fragment.split("'")[1]
    result = resolve(f"y = {name}", [("In [1]", setup)] if "eval" not in setup and "type(" not in setup else [],
                     namespace)
    try:
        assert len(result.problems) == 1 and "\n" not in result.problems[0]
        assert fragment in result.problems[0], result.problems
    finally:
        for value in namespace.values():
            if isinstance(value, (io.IOBase, socket.socket)):
                value.close()


def test_a_kernel_object_whose_attributes_raise_is_a_problem_not_a_crash():
    class Proxy:
        def __getattribute__(self, name):
            raise RuntimeError("no")

    sources, namespace = kernel([])
    namespace["proxy"] = Proxy()
    assert resolve("x = proxy", sources, namespace).problems == (
        "the notebook's 'proxy' cannot be sent with the cell: looking at it raised RuntimeError",)
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    namespace["deep"] = deep
    assert resolve("x = deep", sources, namespace).problems == (
        "the notebook's 'deep' cannot be sent with the cell: looking at it raised RecursionError",)


def test_names_of_annotations_travel_too_as_a_def_evaluates_them():
    sources, namespace = kernel(["class Point:\n    pass\n", "def move(p: Point) -> Point:\n    return p\n"])
    code = resolve("y = move", sources, namespace).notebook.code
    assert code.index("class Point:") < code.index("def move")
    exec(code, {})  # no NameError when the def runs


def test_a_builtin_the_notebook_rebound_travels_and_the_others_stay_pythons():
    sources, namespace = kernel(["max = 3\nrange = range"])
    assert resolve("y = max + len(list(range(2)))", sources, namespace).notebook.code == "max = 3"
    assert resolve("y = max", [(f"cell {n}", c) for n, (_, c) in enumerate(sources, 1)], {}, kernel=False
                   ).notebook.code == "max = 3"


def test_the_preludes_names_are_not_looked_up_in_the_notebook():
    sources, namespace = kernel(["BRAND = 'red'", "SIZE = 2"])
    result = resolve("x = BRAND * SIZE", sources, namespace, prelude="BRAND = 'blue'")
    assert result.notebook.code == "SIZE = 2"
    sent = join_prelude("BRAND = 'blue'", "x = BRAND * SIZE", result.notebook)
    assert sent == "BRAND = 'blue'\n\nSIZE = 2\n\nx = BRAND * SIZE"


@pytest.mark.parametrize("value", [
    0, -3, 2.5, -0.1, 1e300, float("inf"), True, None, "it's \"quoted\"\n", b"\x00", complex(1, -2),
    (1,), (), [1, [2, (3, "x")]], {"a": [1, 2], 3: None}, {3, 1, 2}, frozenset({"b", "a"}), set(),
])
def test_plain_values_are_written_as_literals_that_rebuild_them(value):
    assert eval(literal(value)) == value
    assert type(eval(literal(value))) is type(value)


def test_numbers_of_numpy_and_manim_colours_are_rebuilt_exactly():
    import numpy
    from manim import BLUE, RED, RIGHT, UP, ManimColor, interpolate_color

    needs: set[str] = set()
    for value in (RIGHT + 2 * UP, numpy.arange(6, dtype=numpy.int32).reshape(2, 3), numpy.zeros((0, 3)),
                  numpy.array([math.nan, -math.inf]), numpy.float64(0.1) * 3, numpy.array([1 + 2j])):
        rebuilt = eval(literal(value, needs), {"numpy": numpy})
        assert type(rebuilt) is type(value) and rebuilt.dtype == value.dtype and rebuilt.shape == numpy.shape(value)
        assert numpy.array_equal(rebuilt, value, equal_nan=True)
    assert needs == {"numpy"}
    colours = [RED, interpolate_color(RED, BLUE, 0.37), ManimColor("#12345680")]
    for colour in colours:
        text = literal(colour, needs)
        assert list(eval(text, {"ManimColor": ManimColor})._internal_value) == list(colour._internal_value)
    assert literal(RED) == "ManimColor('#FC6255')" and literal(colours[2]) == "ManimColor('#12345680')"
    assert "ManimColor" in needs


def test_a_set_is_written_in_one_order_whatever_the_hashing():
    assert literal({"pear", "apple", "fig"}) == "{'apple', 'fig', 'pear'}"


def test_a_value_holding_a_kodisc_key_never_travels():
    sources, namespace = kernel(["SETTINGS = {'key': 'kdsc_live_' + '9c' * 24, 'size': 2}"])
    [problem] = resolve("x = SETTINGS", sources, namespace).problems
    assert problem == "the notebook's 'SETTINGS' cannot be sent with the cell: it holds a Kodisc API key, and keys " \
                      "never leave the kernel" and "9c9c" not in problem


def test_a_huge_value_is_refused_by_its_size():
    with pytest.raises(Unwritable, match="over 100 KB"):
        literal(["x" * 1000] * 200)


def test_a_saved_notebook_knows_literals_and_says_when_a_value_is_computed():
    """Without a kernel (`kodisc render NOTEBOOK`), sources alone: the same text for a literal, a problem
    naming the cell for a computed value."""
    cells = ["from manim import *", "RADIUS = 1.25\nSIDES = (3, 4)", "def shape(n):\n    return RegularPolygon(n, radius=RADIUS)\n"]
    sources, namespace = kernel(cells)
    static_namespace: dict = {}
    exec(cells[0], static_namespace)
    cell = "class S(Scene):\n    def construct(self):\n        self.add(*[shape(n) for n in SIDES])\n"
    static = resolve(cell, [(f"cell {n}", c) for n, c in enumerate(cells, 1)], static_namespace, kernel=False)
    assert static.problems == () and static.notebook.code == resolve(cell, sources, namespace).notebook.code
    computed = resolve("x = R", [("cell 4", "R = math.sqrt(2)")], {}, kernel=False)
    assert computed.problems == ("'R' is computed in cell 4 (line 1): only running the notebook knows its value "
                                 "(execute it, or assign a literal)",)


def test_config_media_width_of_an_earlier_cell_is_a_player_setting():
    sources, namespace = kernel(["from manim import *\nconfig.media_width = '75%'", "config['media_embed'] = True"])
    assert resolve("x = 1", sources, namespace).settings == {"media_width": "75%", "media_embed": True}


def test_manim_config_set_by_earlier_cells_travels_but_not_what_the_render_owns_or_the_prelude_sets():
    cells = ["from manim import *", "config.background_color = WHITE\nconfig.pixel_width = 100\nconfig.verbosity = 'ERROR'",
             "config['frame_width'] = 10\nconfig.background_color = BLACK"]
    sources, namespace = kernel(cells)
    result = resolve("x = 1", sources, namespace)
    assert result.notebook.code == "from manim import *\n\nconfig['frame_width'] = 10\n\nconfig.background_color = BLACK"
    assert result.notebook.names == ("config.frame_width", "config.background_color")
    assert result.notebook.origins[-1] == "In [3] line 2"
    prelude = "from manim import *\nconfig.background_color = GREY"
    assert "background_color" not in resolve("x = 1", sources, namespace, prelude=prelude).notebook.code
    static_namespace: dict = {}
    exec(cells[0], static_namespace)
    static = resolve("x = 1", [(f"cell {n}", c) for n, c in enumerate(cells, 1)], static_namespace, kernel=False)
    assert static.notebook.code == result.notebook.code
    # A `config` of the notebook's own (not Manim's) is just a variable.
    assert resolve("x = 1", *kernel(["config = {}", "config['a'] = 1"])).notebook is None


def test_what_a_capture_or_time_cell_defines_is_the_notebooks_in_a_kernel_and_in_a_saved_notebook(tmp_path):
    """IPython keeps `%%capture` cells in `In` as a run_cell_magic call; the body ran in the namespace."""
    import json

    from kodisc_jupyter.cells.notebook import render_cells

    body = "!pip install something\nimport numpy as np\nSIZE = 3\n\ndef grow(x):\n    return x * SIZE\n"
    sources = [("In [1]", f"get_ipython().run_cell_magic('capture', '', {body!r})")]
    namespace = {"__name__": "__main__"}
    exec("import numpy as np\nSIZE = 3\n\ndef grow(x):\n    return x * SIZE\n", namespace)
    cell = "y = np.sqrt(grow(2))"
    kernel_code = resolve(cell, sources, namespace).notebook
    assert kernel_code.code == "import numpy as np\n\nSIZE = 3\n\ndef grow(x):\n    return x * SIZE"
    assert kernel_code.origins[-1] == "In [1] line 7"  # the cell's line: %%capture is line 1
    notebook = tmp_path / "n.ipynb"
    notebook.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "source": "%%capture\n" + body},
        {"cell_type": "code", "metadata": {}, "outputs": [], "source": "%%kodisc\n" + cell}]}))
    [rendered] = render_cells(notebook)
    assert rendered.request.full_code == kernel_code.code + "\n\n" + cell + "\n"  # IPython ends a cell with \n


def test_an_earlier_cells_scene_named_on_the_magic_line_travels():
    sources, namespace = kernel(["from manim import *", "class Old(Scene):\n    def construct(self):\n        pass\n"])
    assert "class Old(Scene):" in resolve("", sources, namespace, class_name="Old").notebook.code


# -- line mapping ------------------------------------------------------------------------------------


def test_lines_of_the_code_sent_map_back_to_where_they_were_written():
    notebook = NotebookCode("import numpy as np\n\ndef f():\n    return 1 / 0", ("In [1] line 1", "In [2] line 1",
                            "In [2] line 1", "In [2] line 2"), ("f()",))
    prelude = "from manim import *\nconfig.background_color = BLACK\n"
    lines = LineMap(prelude, notebook)
    sent = join_prelude(prelude, "class S(Scene):\n    def construct(self):\n        f()\n", notebook)
    numbered = {n: line for n, line in enumerate(sent.splitlines(), start=1)}
    assert numbered[7] == "    return 1 / 0" and lines.where(7) == "In [2] line 2"
    assert numbered[2].startswith("config.") and lines.where(2) == "prelude line 2"
    assert numbered[11] == "        f()" and lines.where(11) == "line 3"
    # A render's error, ours (one line) and a traceback's, in the user's terms.
    assert lines.explain("ZeroDivisionError: division by zero (line 7: return 1 / 0)") == \
        "ZeroDivisionError: division by zero (In [2] line 2: return 1 / 0)"
    traceback = textwrap.dedent('''\
        Traceback (most recent call last):
          File "/usr/lib/python3/site-packages/manim/scene/scene.py", line 10, in render
          File "scene.py", line 11, in construct
          File "/tmp/job/scene.py", line 7, in f
        ZeroDivisionError: division by zero''')
    assert lines.explain(traceback).splitlines()[1:4] == [
        '  File "/usr/lib/python3/site-packages/manim/scene/scene.py", line 10, in render',  # Manim's own: as is
        '  File "scene.py", line 3, in construct', '  File "/tmp/job/scene.py", In [2] line 2, in f']
    assert LineMap().explain("oops (line 4: x)") == "oops (line 4: x)"  # nothing in front: the cell's own numbers

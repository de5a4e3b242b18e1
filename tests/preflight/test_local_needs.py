"""The pre-flight's local-only checks: what needs TeX, Kodisc's plugin, and the files beside a notebook."""
from __future__ import annotations

import ast
import textwrap

import pytest

from kodisc_jupyter.rendering import local_needs
from kodisc_jupyter.rendering.local_needs import local_problems, tex_use
from kodisc_jupyter.rendering.preflight import preflight


def uses(body: str) -> str | None:
    return tex_use(ast.parse(textwrap.dedent(body)))


@pytest.mark.parametrize(("body", "expected"), [
    ('MathTex(r"x^2")', "MathTex"),
    ('t = Tex("hi")', "Tex"),
    ("Title('Lesson 1')", "Title"),
    ("DecimalNumber(3.14)", "DecimalNumber"),
    ("Axes(x_range=[0, 3], axis_config={'include_numbers': True})", "include_numbers"),
    ("NumberLine(include_numbers=True)", "include_numbers"),
    ("NumberLine(numbers_to_include=[1, 2])", "numbers_to_include"),
    ("axes = Axes()\nlabels = axes.get_axis_labels()", "get_axis_labels()"),
    ("axes.get_graph_label(graph, 'x^2')", "get_graph_label()"),
    ("NumberPlane().add_coordinates()", "add_coordinates()"),
    ("b = Brace(line, DOWN)\nb.get_text('4 units')", "get_text()"),
    ("BraceLabel(line, 'x')", "BraceLabel"),
    ("Matrix([[1, 2], [3, 4]])", "Matrix"),
    ("ax.get_axis_labels(x_label='x', y_label=Text('y'))", "get_axis_labels()"),  # a string label: MathTex
    ("LabeledDot('A')", "LabeledDot"), ("LabeledLine(label='0.5', start=LEFT, end=RIGHT)", "LabeledLine"),
    ("Graph([1, 2], [(1, 2)], labels=True)", "Graph(labels=True)"),
    ("Vector([1, 2]).coordinate_label()", "coordinate_label()"),
    ("LinearTransformationScene.__init__(self, show_coordinates=True)", "show_coordinates"),
])
def test_what_needs_tex(body, expected):
    assert uses(body) == expected


@pytest.mark.parametrize("body", [
    "Text('hello')", "Axes(x_range=[0, 3])", "NumberLine(include_numbers=False)", "NumberPlane()",
    "Axes(axis_config={'include_numbers': False})", "Brace(line)", "label.get_text()",  # no Brace: someone's own
    "class Title(VGroup):\n    pass\nTitle()",  # the code's own Title
    "NumberLine(numbers_to_include=[])", "MarkupText('<b>x</b>')", "Code(code_string='x = 1')",
    "ax.get_axis_labels(Text('x'), Text('y'))", "BraceText(square, 'Label')",  # Manim 0.22's BraceText: Text
    "LabeledDot(Text('A'))", "Graph([1, 2], [(1, 2)], labels={1: Text('a'), 2: Text('b')})",
])
def test_what_needs_no_tex(body):
    assert uses(body) is None


def test_missing_tex_is_one_line_for_the_local_backend(monkeypatch):
    from kodisc_jupyter.server._tex import TexInstall

    monkeypatch.setattr(local_needs, "find_tex", lambda: TexInstall(missing=("latex", "dvisvgm")))
    code = "from manim import *\nclass A(Scene):\n    def construct(self):\n        self.add(MathTex('x'), Tex('y'))\n"
    (problem,) = local_problems(code)
    assert problem.startswith("MathTex needs LaTeX, which is not installed here (latex and dvisvgm not found): "
                              "install it (Debian/Ubuntu, as root: apt-get install --no-install-recommends "
                              "texlive-latex-base ")
    assert problem.endswith("from a checkout: make demo), or render on Kodisc, which has it")
    assert local_problems("from manim import *\nclass A(Scene):\n    def construct(self):\n        self.add(Text('x'))\n") == []


def test_tex_present_is_no_problem():
    from kodisc_jupyter.server._tex import find_tex

    if find_tex().missing:
        pytest.skip("TeX is not installed here")
    assert local_problems("from manim import *\nMathTex('x')\n") == []


def test_kodisc_plugin_missing_says_how_to_get_it(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "manim_kodisc" else real(name, *a))
    for line in ("from manim_kodisc import *", "import manim_kodisc", "from manim_kodisc.charts import PiChart"):
        (problem,) = local_problems(f"from manim import *\n{line}\n")
        assert "imports manim_kodisc, Kodisc's plugin, which is not installed here: pip install requests && pip " \
               "install --no-deps manim-kodisc" in problem and problem.endswith("or render on Kodisc, which has it")
    assert local_problems("from manim import *\nfrom my_manim_kodisc import x\n") == []


def test_files_beside_are_no_warning_where_the_render_reads_them(tmp_path):
    (tmp_path / "diagram.png").write_bytes(b"png")
    (tmp_path / "data").mkdir()
    (tmp_path / "data/points.csv").write_text("0,0\n")
    code = textwrap.dedent("""\
        from manim import *
        import numpy as np

        class A(Scene):
            def construct(self):
                self.add(ImageMobject("diagram.png"), SVGMobject("missing.svg"))
                np.loadtxt("data/points.csv", delimiter=",")
                np.loadtxt("../outside.csv")
        """)
    (tmp_path.parent / "outside.csv").write_text("1\n")
    kodisc = preflight(code).warnings  # Kodisc: every file is a warning
    assert [w.split(" uses ")[0] for w in kodisc] == [
        "line 6: ImageMobject('diagram.png')", "line 6: SVGMobject('missing.svg')", "line 7: loadtxt('data/points.csv')",
        "line 8: loadtxt('../outside.csv')"]
    assert preflight(code).files == ()
    assert preflight(code, beside=tmp_path).files == ("data/points.csv", "diagram.png")  # in the cache key
    local = preflight(code, beside=tmp_path).warnings
    assert local == [f"line 6: SVGMobject('missing.svg') uses a file that is not in the notebook's folder ({tmp_path}), "
                     "the only one renders read",
                     f"line 8: loadtxt('../outside.csv') uses a file that is not in the notebook's folder ({tmp_path}), "
                     "the only one renders read"]


def test_the_flow_stops_before_sending_only_on_the_local_backend(monkeypatch):
    from kodisc_jupyter.contract._errors import PreflightError
    from kodisc_jupyter.rendering.backend import Backend
    from kodisc_jupyter.rendering.pipeline import RenderFlow, RenderRequest
    from kodisc_jupyter.server._tex import TexInstall

    monkeypatch.setattr(local_needs, "find_tex", lambda: TexInstall(missing=("latex",)))
    request = RenderRequest(code="from manim import *\nclass A(Scene):\n    def construct(self):\n"
                                 "        self.add(Title('Lesson'))\n")
    with pytest.raises(PreflightError) as raised:
        RenderFlow(request, Backend("local", "", None), history=None).check()
    assert len(raised.value.errors) == 1 and raised.value.errors[0].startswith("Title needs LaTeX")
    kodisc = RenderFlow(request, Backend("kodisc", "https://kodisc.example/api/v2", None), history=None)
    kodisc.check()  # Kodisc has TeX
    assert kodisc.class_name == "A"


def test_a_notebook_in_the_home_folder_itself_is_told_why_its_files_are_not_seen():
    from pathlib import Path

    from kodisc_jupyter.rendering.backend import Backend
    from kodisc_jupyter.rendering.pipeline import RenderFlow, RenderRequest
    from kodisc_jupyter.server._process import scene_files

    files, problem = scene_files(Path.home())
    assert files is None
    code = "from manim import *\nclass A(Scene):\n    def construct(self):\n        self.add(ImageMobject('x.png'))\n"
    flow = RenderFlow(RenderRequest(code=code), Backend("local", "", None, scene_files_problem=problem), history=None)
    flow.check()
    assert flow.warnings[-1] == (f"files beside the notebook: renders do not see {Path.home().resolve()}: it holds "
                                 "your whole home folder; keep the notebook and its files in a folder of their own")
    quiet = RenderFlow(RenderRequest(code=code.replace("ImageMobject('x.png')", "Circle()")),
                       Backend("local", "", None, scene_files_problem=problem), history=None)
    quiet.check()
    assert quiet.warnings == ()

"""Pre-flight on realistic cells: no false errors on valid scenes, clear one-line errors otherwise."""
from __future__ import annotations

import importlib.util
import json
import sys
import textwrap

import pytest

from kodisc_jupyter.rendering.manim_names import listed_names, manim_names
from kodisc_jupyter.rendering.preflight import join_prelude, preflight


# These read Manim's own namespace (no render): they say so, and skip where Manim is absent.
def needs_manim(test):
    absent = pytest.mark.skipif(importlib.util.find_spec("manim") is None, reason="Manim is not installed")
    return pytest.mark.manim(absent(test))


def cell(source: str) -> str:
    return textwrap.dedent(source).lstrip("\n")


# -- valid, real-world style scenes: nothing to report ---------------------------------------------

VALID_SCENES = {
    "mathtex": cell("""
        from manim import *

        class Pythagoras(Scene):
            def construct(self):
                formula = MathTex(r"a^2", "+", r"b^2", "=", r"c^2")
                title = Tex("Pythagoras").to_edge(UP)
                self.play(Write(title), FadeIn(formula, shift=UP))
                self.play(Indicate(formula[4], color=YELLOW))
                self.wait(0.5)
        """),
    "value_tracker_always_redraw_updaters": cell("""
        from manim import *

        class Tracker(Scene):
            def construct(self):
                t = ValueTracker(0)
                axes = Axes(x_range=[0, 4], y_range=[0, 16], tips=False)
                graph = axes.plot(lambda x: x ** 2, color=BLUE)
                dot = always_redraw(lambda: Dot(axes.c2p(t.get_value(), t.get_value() ** 2), color=RED))
                label = DecimalNumber(0).add_updater(lambda m: m.set_value(t.get_value()).next_to(dot, UR))
                square = Square().add_updater(lambda m, dt: m.rotate(dt * PI))

                def follow(mob):
                    mob.move_to(dot.get_center())

                ring = Circle(radius=0.3).add_updater(follow)
                self.add(axes, graph, dot, label, square, ring)
                self.play(t.animate.set_value(3), run_time=1, rate_func=smooth)
                square.clear_updaters()
        """),
    "loops_helpers_class_attributes_scopes": cell("""
        from manim import *
        import numpy as np
        import itertools as it
        from math import tau as TAU_

        COUNT = 4

        def make_row(n, *, spacing=0.5, **style):
            return VGroup(*[Square(0.3, **style) for _ in range(n)]).arrange(RIGHT, buff=spacing)

        def counter():
            total = 0
            def bump(step=1):
                nonlocal total
                total += step
                return total
            return bump

        class Grid(Scene):
            PALETTE = [RED, GREEN, BLUE]
            size: int = 3

            def construct(self):
                global COUNT
                rows = VGroup()
                for i, color in enumerate(self.PALETTE):
                    rows.add(make_row(COUNT, color=color))
                squares = {k: v for k, v in zip("abc", rows)}
                if (n := len(squares)) > 2:
                    rows.arrange(DOWN)
                points = [np.array([x, y, 0]) for x, y in it.product(range(2), range(2))]
                with self.subtitle_context() as sub:
                    pass
                try:
                    angle = TAU_ / n
                except ZeroDivisionError as err:
                    angle = float(str(err) or 0)
                bump = counter()
                label = Text(f"{bump()} rows, {len(points)} points, {angle:.2f}")
                match label:
                    case Text(text=content) as matched:
                        pass
                    case [first, *rest]:
                        pass
                    case {"key": value, **others}:
                        pass
                self.play(Create(rows), Write(label))

            def subtitle_context(self):
                import contextlib
                return contextlib.nullcontext(self)
        """),
    "three_d": cell("""
        from manim import *

        class Surface3D(ThreeDScene):
            def construct(self):
                axes = ThreeDAxes()
                surface = Surface(
                    lambda u, v: axes.c2p(u, v, np.sin(u) * np.cos(v)),
                    u_range=[-PI, PI], v_range=[-PI, PI], resolution=(8, 8),
                )
                self.set_camera_orientation(phi=75 * DEGREES, theta=-45 * DEGREES)
                self.add(axes, surface)
                self.begin_ambient_camera_rotation(rate=0.2)
                self.wait(1)
        """),
    "moving_camera_inheritance_super": cell("""
        from manim import *

        class Base(MovingCameraScene):
            def setup(self):
                super().setup()
                self.dots = VGroup(*(Dot(RIGHT * i) for i in range(3)))

        class Zoom(Base):
            def construct(self):
                self.add(self.dots)
                self.play(self.camera.frame.animate.scale(0.5).move_to(self.dots[1]))
                print(__name__, __class__)
        """),
    "annotations_and_decorators": cell("""
        from __future__ import annotations
        from functools import lru_cache
        from manim import *

        @lru_cache(maxsize=None)
        def fib(n: int) -> int:
            return n if n < 2 else fib(n - 1) + fib(n - 2)

        class Fib(Scene):
            total: SomeTypeDefinedNowhere = 0

            def construct(self) -> NotDefinedEither:
                numbers = [Integer(fib(i)) for i in range(6)]
                self.play(LaggedStart(*map(FadeIn, numbers), lag_ratio=0.2))
        """),
    "explicit_imports_no_star": cell("""
        import manim as mn
        from manim import Scene, Circle, Create

        class Explicit(Scene):
            def construct(self):
                self.play(Create(Circle(color=mn.PINK)))
        """),
}


@pytest.mark.parametrize("name", sorted(VALID_SCENES))
def test_realistic_scenes_pass_without_errors_or_warnings(name):
    result = preflight(VALID_SCENES[name])
    assert result.errors == [] and result.warnings == [] and result.ok
    expected = {"mathtex": "Pythagoras", "value_tracker_always_redraw_updaters": "Tracker",
                "loops_helpers_class_attributes_scopes": "Grid", "three_d": "Surface3D",
                "moving_camera_inheritance_super": "Zoom", "annotations_and_decorators": "Fib",
                "explicit_imports_no_star": "Explicit"}[name]
    assert result.class_name == expected


# -- parsing ------------------------------------------------------------------------------------------


def test_syntax_error_reports_the_cells_line():
    result = preflight("from manim import *\n\nclass A(Scene):\n    def construct(self)\n        pass\n")
    assert not result.ok
    assert len(result.errors) == 1 and result.errors[0].startswith("line 4: SyntaxError:")


def test_syntax_error_line_is_the_cells_even_with_a_prelude():
    prelude = "from manim import *\nimport numpy as np\n\nBRAND = BLUE\n\n"
    result = preflight("class A(Scene):\n    x = (1,\n", prelude=prelude)
    assert result.errors[0].startswith("line 2: SyntaxError:"), result.errors


def test_syntax_error_inside_the_prelude_says_so():
    result = preflight("class A(Scene): pass\n", prelude="from manim import *\nx = = 1\n")
    assert result.errors[0].startswith("prelude line 2: SyntaxError:"), result.errors


def test_empty_cell_is_an_error():
    assert "empty" in preflight("  \n\n").errors[0]


# -- the class to render ------------------------------------------------------------------------------

TWO_SCENES = cell("""
    from manim import *

    class Intro(Scene):
        def construct(self):
            self.add(Circle())

    class Outro(Scene):
        def construct(self):
            self.add(Square())
    """)


def test_class_name_is_required_when_several_scenes_are_defined():
    result = preflight(TWO_SCENES)
    assert result.class_name is None
    assert result.errors == ["the cell defines several scenes (Intro, Outro); name the one to render"]


def test_a_named_class_among_several_is_accepted():
    result = preflight(TWO_SCENES, "Outro")
    assert result.ok and result.class_name == "Outro"


def test_an_unknown_class_name_lists_the_candidates():
    result = preflight(TWO_SCENES, "Middle")
    assert result.errors == ["class 'Middle' is not defined in the cell (classes defined: Intro, Outro)"]


def test_naming_a_helper_class_that_cannot_be_a_scene_is_an_error():
    code = "from manim_slides import Slide\n" + TWO_SCENES + "\nclass Palette:\n    pass\n\nclass Deck(Slide):\n    pass\n"
    assert preflight(code, "Palette").errors == [
        "class 'Palette' is not a Scene: it derives from no class (scenes in the cell: Intro, Outro)"]
    assert preflight(code, "Deck").ok  # a base we cannot see (manim_slides' Slide, ...) may be a Scene


def test_an_invalid_class_name_is_an_error():
    assert "not a Python identifier" in preflight(TWO_SCENES, "Intro; rm").errors[0]


def test_no_scene_at_all_is_an_error():
    result = preflight("from manim import *\n\ndef helper():\n    return Circle()\n")
    assert "no Scene subclass" in result.errors[0]


def test_a_helper_base_scene_is_not_a_candidate():
    code = cell("""
        import manim

        class Styled(manim.Scene):
            pass

        class Lesson(Styled):
            def construct(self):
                self.add(manim.Dot())
        """)
    assert preflight(code).class_name == "Lesson"


def test_a_class_from_the_prelude_may_be_named_but_is_not_picked_implicitly():
    prelude = "from manim import *\n\nclass Branded(Scene):\n    pass\n"
    assert preflight("class Title(Branded):\n    pass\n", prelude=prelude).class_name == "Title"
    assert preflight("x = 1\n", "Branded", prelude=prelude).ok
    assert "no Scene subclass" in preflight("x = 1\n", prelude=prelude).errors[0]


# -- names ----------------------------------------------------------------------------------------------


@needs_manim
def test_a_notebook_variable_is_reported_with_its_line():
    code = cell("""
        from manim import *

        class A(Scene):
            def construct(self):
                self.add(Circle(radius=radius, color=BRAND))
                self.play(Rotate(square))
        """)
    result = preflight(code)
    assert result.errors == [  # one error for all of them, not the same sentence three times
        "names not defined in the cell, the prelude or the notebook: 'radius' (line 5), 'BRAND' (line 5), "
        "'square' (line 6)",
    ]
    one = preflight(code.replace("color=BRAND", "color=RED").replace("Rotate(square)", "Rotate(Square())"))
    assert one.errors == ["line 5: name 'radius' is not defined in the cell, the prelude or the notebook"]


@needs_manim
def test_a_forgotten_manim_import_says_how_to_fix_it():
    result = preflight("class A(Scene):\n    def construct(self):\n        self.play(Create(Circle(color=BRAND)))\n")
    assert result.errors == [
        "names not defined in the cell, the prelude or the notebook: 'Scene' (line 1), 'Create' (line 3), "
        "'Circle' (line 3), 'BRAND' (line 3); Scene, Create, Circle come from Manim: add `from manim import *`"]


@needs_manim
def test_names_from_the_prelude_are_defined_and_its_own_mistakes_say_prelude():
    prelude = "from manim import *\nBRAND = BLUE\nACCENT = missing_color\n"
    result = preflight("class A(Scene):\n    def construct(self):\n        self.add(Dot(color=BRAND))\n",
                       prelude=prelude)
    assert len(result.errors) == 1 and result.errors[0].startswith("prelude line 3: name 'missing_color'")


@needs_manim
def test_manim_names_come_from_manims_real_namespace():
    names = manim_names()
    assert names is not None
    assert {"Scene", "MathTex", "ValueTracker", "always_redraw", "np", "config", "DEGREES"} <= names
    result = preflight("from manim import *\nclass A(Scene):\n    def construct(self):\n        NotAManimName()\n")
    assert result.errors[0].startswith("line 4: name 'NotAManimName'")


def test_a_star_import_we_cannot_list_accepts_any_name():
    code = "from numpy import *\nfrom manim import Scene\nclass A(Scene):\n    x = linspace(0, 1)\n"
    assert preflight(code).ok


def test_without_manim_installed_star_import_accepts_any_name(monkeypatch):
    monkeypatch.setitem(sys.modules, "manim", None)  # as if it could not be imported
    assert manim_names() is None
    result = preflight("from manim import *\nclass A(Scene):\n    def construct(self):\n        Whatever()\n")
    assert result.ok and result.class_name == "A"


@needs_manim
def test_manim_names_are_cached_on_disk_per_version(isolated_kodisc_env):
    listed_names.cache_clear()
    try:
        listed = manim_names()
        cached = list((isolated_kodisc_env / "cache").glob("manim-names-*.json"))
        assert len(cached) == 1 and set(json.loads(cached[0].read_text())) == listed
        cached[0].write_text(json.dumps(["Scene", "OnlyThisName"]))  # a later kernel reads the file, no subprocess
        listed_names.cache_clear()
        assert manim_names() == {"Scene", "OnlyThisName"}
    finally:
        listed_names.cache_clear()  # later tests list the real names again


# -- local files ----------------------------------------------------------------------------------------


def test_local_files_given_to_media_mobjects_are_warnings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the kernel's working folder: the notebook's
    (tmp_path / "diagram").write_bytes(b"<svg/>")  # an existing file without an extension
    code = cell("""
        from manim import *

        class Logo(ImageMobject):
            pass

        class A(Scene):
            def construct(self):
                self.add(ImageMobject("assets/logo.png"))
                self.add(SVGMobject(file_name="icons/star.svg", height=1))
                self.add(Code(code_file="snippet.py"))
                self.add(Logo("brand.jpg"))
                self.add(SVGMobject("diagram"))
                self.add_sound("click.wav")
                self.add(ImageMobject("https://example.com/remote.png"))
                self.add(ImageMobject(np.zeros((4, 4, 3), dtype=np.uint8)))
                self.add(Code(code_string="print('main.py')"))
                self.add(SVGMobject("not-a-file-name"))
                self.add(Text("hello.txt"))
        """)
    result = preflight(code)
    assert result.ok and result.class_name == "A"
    assert result.warnings == [f"line {n}: {call} {RELATIVE}" for n, call in [
        (8, "ImageMobject('assets/logo.png')"), (9, "SVGMobject('icons/star.svg')"), (10, "Code('snippet.py')"),
        (11, "Logo('brand.jpg')"), (12, "SVGMobject('diagram')"), (13, "add_sound('click.wav')")]]


RELATIVE = ("uses a file beside the notebook: Kodisc cannot read your files (the embedded local server reads the "
            "notebook's folder; elsewhere, load it from a URL or draw it in code)")


def test_an_absolute_path_is_flagged_only_for_kodisc(tmp_path):
    """A render runs in its own folder: only an absolute path reaches the file, and only unsandboxed."""
    image = tmp_path / "logo.png"
    image.write_bytes(b"png")
    code = f"from manim import *\nclass A(Scene):\n    def construct(self):\n        self.add(ImageMobject({str(image)!r}))\n"
    (warning,) = preflight(code).warnings
    assert warning.startswith("line 4: ImageMobject('/")
    assert warning.endswith(") uses a local file: a Kodisc render cannot see your disk, nor can the local "
                            "server's sandbox (only `kodisc serve --no-sandbox` can)")


# -- what is sent ---------------------------------------------------------------------------------------


def test_source_is_exactly_what_the_pipeline_sends():
    from kodisc_jupyter.rendering.pipeline import RenderRequest

    prelude, code = "from manim import *\nBRAND = BLUE  \n\n\n", "class A(Scene):\n    pass\n"
    assert preflight(code, prelude=prelude).source == RenderRequest(code=code, prelude=prelude).full_code
    assert preflight(code).source == code == join_prelude("", code)


def test_leading_config_reads_the_settings_at_the_top_of_a_cell():
    from kodisc_jupyter.rendering.preflight import leading_config

    cell = ('config.media_width = "75%"\nconfig["media_embed"] = True\nconfig.background_color = RED\n'
            'config.frame_rate = 24\n\nclass A(Scene):\n    pass\nconfig.pixel_width = 1\n')
    assert leading_config(cell) == {"media_width": "75%", "media_embed": True, "frame_rate": 24}
    assert leading_config("class A(Scene):\n    pass\nconfig.media_width = '50%'\n") == {}
    assert leading_config("config.media_width = (\n") == {}


def test_free_names_are_what_the_cell_uses_without_binding():
    from kodisc_jupyter.rendering.preflight import free_names

    cell = "import numpy as np\nclass A(Scene):\n    def construct(self):\n        self.add(Circle(radius=np.pi * r))\n"
    assert free_names(cell) == ["Circle", "Scene", "r"]
    assert free_names(cell, prelude="r = 1") == ["Circle", "Scene"]
    assert free_names("class (:") == []


def test_kernel_manim_imports_count_only_manims_own_objects(monkeypatch):
    """A stand-in `manim` module (importing Manim here would configure this process's logging)."""
    import sys
    import types

    from kodisc_jupyter.rendering.preflight import kernel_manim_imports

    manim = types.ModuleType("manim")
    geometry = types.ModuleType("manim.mobject.geometry")

    class Circle:
        pass

    manim.Circle, manim.UP, manim.geometry = Circle, object(), geometry
    assert kernel_manim_imports(["Circle"], {"Circle": Circle}) == ""  # Manim not imported in the kernel
    monkeypatch.setitem(sys.modules, "manim", manim)
    namespace = {"Circle": Circle, "UP": manim.UP, "Round": Circle, "mn": manim, "geo": geometry,
                 "DOWN": object(), "radius": 2}
    assert kernel_manim_imports(["Circle", "UP"], namespace) == "from manim import *"
    assert kernel_manim_imports(["Round", "mn", "geo"], namespace) == (
        "from manim import Circle as Round\nimport manim as mn\nimport manim.mobject.geometry as geo")
    assert kernel_manim_imports(["DOWN", "radius", "undefined"], namespace) == ""  # notebook variables stay errors

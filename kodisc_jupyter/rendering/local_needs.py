"""What a scene needs from this machine when the embedded local server renders it: TeX and Kodisc's plugin.

Kodisc has both, so these are pre-flight errors only for the local backend, and only when the
thing is missing here: one line saying what is missing, how to install it, and that Kodisc
renders the scene as it is. Pure `ast`; a false error would block a render that works, so the
rules name only what needs TeX for certain (a class the code defines itself is its own).
"""
from __future__ import annotations

import ast
import importlib.util

from ..server._tex import DEBIAN_TEX_PACKAGES, find_tex

__all__ = ["local_problems", "tex_use", "PLUGIN", "PLUGIN_INSTALL"]

#: Kodisc's plugin (PyPI manim-kodisc): PiChart, ForceDiagram, SlopeField, ...
PLUGIN = "manim_kodisc"
#: Without its dependencies: its wheel pins pillow<10, which Manim 0.22 (pillow>=11) cannot use (docs/server.md).
PLUGIN_INSTALL = "pip install --no-deps manim-kodisc"

#: Manim classes that typeset with LaTeX whenever they are made.
_TEX_CLASSES = frozenset({
    "MathTex", "Tex", "SingleStringMathTex", "Title", "BulletedList", "DecimalNumber", "Integer", "Variable",
    "Matrix", "IntegerMatrix", "DecimalMatrix", "MobjectMatrix", "MathTable", "DecimalTable", "IntegerTable",
    "BraceLabel", "BraceText", "BarChart", "ChangingDecimal", "ChangeDecimalToValue",
    "PiChart",  # manim_kodisc's, labelled by default
})
#: Methods that add TeX labels: axes' and number lines' numbers and labels.
_TEX_METHODS = frozenset({
    "get_axis_labels", "get_x_axis_label", "get_y_axis_label", "get_z_axis_label", "get_graph_label",
    "get_T_label", "add_coordinates", "add_numbers", "get_number_mobject", "get_number_mobjects",
})
#: Brace's own methods (generic names: they count only where the code uses Brace).
_BRACE_METHODS = frozenset({"get_text", "get_tex"})
#: Options that turn numbers on (`include_numbers=True`, `axis_config={"include_numbers": True}`).
_NUMBER_OPTIONS = frozenset({"include_numbers", "numbers_to_include"})


def local_problems(source: str) -> list[str]:
    """The pre-flight errors for rendering `source` (the code sent) with this machine's Manim."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []  # the pre-flight reports it
    problems = []
    use = tex_use(tree)
    if use is not None:
        missing = find_tex().missing
        if missing:
            problems.append(
                f"{use} needs LaTeX, which is not installed here ({' and '.join(missing)} not found): install it "
                f"(Debian/Ubuntu, as root: apt-get install --no-install-recommends {' '.join(DEBIAN_TEX_PACKAGES)}; "
                "from a checkout: make demo), or render on Kodisc, which has it")
    if _imports(tree, PLUGIN) and importlib.util.find_spec(PLUGIN) is None:
        problems.append(f"the scene imports {PLUGIN}, Kodisc's plugin, which is not installed here: {PLUGIN_INSTALL} "
                        "(without its dependencies: its pins predate Manim 0.22's Pillow), or render on Kodisc, "
                        "which has it")
    return problems


def tex_use(tree: ast.Module) -> str | None:
    """The first thing in the code that needs TeX ("MathTex", "get_axis_labels()", "include_numbers"), or None."""
    own = {node.name for node in ast.walk(tree) if isinstance(node, (ast.ClassDef, ast.FunctionDef))}
    brace = "Brace" in {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in _TEX_CLASSES and node.id not in own:
            found.append((node.lineno, node.col_offset, node.id))
        elif isinstance(node, ast.Attribute) and (node.attr in _TEX_METHODS or brace and node.attr in _BRACE_METHODS):
            found.append((node.lineno, node.col_offset, f"{node.attr}()"))
        elif isinstance(node, ast.keyword) and node.arg in _NUMBER_OPTIONS and _on(node.value):
            found.append((node.value.lineno, node.value.col_offset, node.arg))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value in _NUMBER_OPTIONS and _on(value):
                    found.append((key.lineno, key.col_offset, str(key.value)))
    return min(found)[2] if found else None


def _on(value: ast.expr) -> bool:
    """Whether an option's value may turn it on (anything but a literal False, None, 0 or empty)."""
    return not (isinstance(value, ast.Constant) and not value.value) and not (
        isinstance(value, (ast.List, ast.Tuple)) and not value.elts)


def _imports(tree: ast.Module, module: str) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(alias.name.split(".")[0] == module for alias in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == module:
            return True
    return False

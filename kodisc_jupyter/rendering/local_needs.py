"""What a scene needs from this machine when the embedded local server renders it: TeX and Kodisc's plugin.

Kodisc has both, so these are pre-flight errors only for the local backend, and only when the
thing is missing here: one line saying what is missing, how to install it, and that Kodisc
renders the scene as it is. Pure `ast`; a false error would block a render that works, so the
rules name only what needs TeX for certain (a class the code defines itself is its own).
"""
from __future__ import annotations

import ast
import importlib.util

from ..server._tex import TEX_INSTALL, find_tex

__all__ = ["local_problems", "tex_use", "PLUGIN", "PLUGIN_INSTALL"]

#: Kodisc's plugin (PyPI manim-kodisc): PiChart, ForceDiagram, SlopeField, ...
PLUGIN = "manim_kodisc"
#: Without its dependencies: its wheel pins pillow<10, which Manim 0.22 (pillow>=11) cannot use (docs/server.md);
#: it imports requests without declaring it (the server extra brings it). Python 3.11+.
PLUGIN_INSTALL = "pip install requests && pip install --no-deps manim-kodisc"

#: Manim classes that typeset with LaTeX whenever they are made.
_TEX_CLASSES = frozenset({
    "MathTex", "Tex", "SingleStringMathTex", "Title", "BulletedList", "DecimalNumber", "Integer", "Variable",
    "Matrix", "IntegerMatrix", "DecimalMatrix", "MobjectMatrix", "MathTable", "DecimalTable", "IntegerTable",
    "BraceLabel", "BarChart", "ChangingDecimal", "ChangeDecimalToValue",
    "PiChart",  # manim_kodisc's, labelled by default
})
#: Methods that add TeX numbers or labels whatever their arguments.
_TEX_METHODS = frozenset({"add_coordinates", "add_numbers", "get_number_mobject", "get_number_mobjects",
                          "coordinate_label", "get_T_label"})
#: Methods whose labels are TeX when given as strings or left out: the label arguments' positions and names.
_LABEL_METHODS: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "get_axis_labels": ((0, 1, 2), ("x_label", "y_label", "z_label")),
    "get_x_axis_label": ((0,), ("label",)), "get_y_axis_label": ((0,), ("label",)),
    "get_z_axis_label": ((0,), ("label",)), "get_graph_label": ((1,), ("label",)),
}
#: Mobjects whose `label` is typeset with MathTex when it is a string.
_STRING_LABELLED = frozenset({"LabeledDot", "LabeledLine", "LabeledArrow"})
#: Brace's own methods (generic names: they count only where the code uses Brace).
_BRACE_METHODS = frozenset({"get_text", "get_tex"})
#: Options that turn TeX numbers or labels on (`include_numbers=True`, `axis_config={"include_numbers": True}`,
#: a Graph's `labels=True`, LinearTransformationScene's `show_coordinates=True`).
_NUMBER_OPTIONS = frozenset({"include_numbers", "numbers_to_include", "show_coordinates"})


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
                f"(Debian/Ubuntu, as root: {TEX_INSTALL}; "
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
        elif isinstance(node, ast.Call):
            use = _call_use(node, brace, own)
            if use:
                found.append((node.lineno, node.col_offset, use))
        elif isinstance(node, ast.keyword) and node.arg in _NUMBER_OPTIONS and _on(node.value):
            found.append((node.value.lineno, node.value.col_offset, node.arg))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value in _NUMBER_OPTIONS and _on(value):
                    found.append((key.lineno, key.col_offset, str(key.value)))
    return min(found)[2] if found else None


def _call_use(call: ast.Call, brace: bool, own: set[str]) -> str | None:
    """What of TeX a call uses: a method that adds TeX labels, a string label, a Graph's `labels=True`."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name is None or name in own:
        return None
    keywords = {keyword.arg: keyword.value for keyword in call.keywords if keyword.arg}
    if isinstance(func, ast.Attribute) and (name in _TEX_METHODS or brace and name in _BRACE_METHODS):
        return f"{name}()"
    if isinstance(func, ast.Attribute) and name in _LABEL_METHODS:
        positions, names = _LABEL_METHODS[name]
        labels = [call.args[i] for i in positions if i < len(call.args)] + [keywords[k] for k in names if k in keywords]
        if not labels or any(_is_text(label) for label in labels):
            return f"{name}()"
    if name in _STRING_LABELLED and any(_is_text(label) for label in [*call.args[:1], keywords.get("label")]):
        return name
    graph_labels = keywords.get("labels")  # True: MathTex numbers; a dict holds the code's own mobjects
    if name in ("Graph", "DiGraph") and isinstance(graph_labels, ast.Constant) and graph_labels.value is True:
        return f"{name}(labels=True)"
    return None


def _is_text(node: ast.expr | None) -> bool:
    return isinstance(node, ast.JoinedStr) or isinstance(node, ast.Constant) and isinstance(node.value, str)


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

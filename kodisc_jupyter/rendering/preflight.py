"""Static checks of a cell before anything is sent, with `ast`: no Manim import here, no network.

The one thing it runs is `manim_names()`: a short subprocess that lists what `from manim import *`
provides, once per Manim version (cached on disk), so a Manim name is not taken for a notebook's.

A cloud render sees only the code it is sent, so the checks catch what would fail there:
code that does not parse, a class name that is not defined, names that live only in the
notebook's namespace, and local files passed to ImageMobject and the like. A false error
blocks a valid render, so every rule leans towards saying nothing when it is unsure (names
are checked against every binding anywhere in the code, not scope by scope).

Errors stop a render; warnings do not. Line numbers are the cell's own: the code sent is the
prelude, the notebook's definitions that travel with the cell (`NotebookCode`), then the cell,
and `LineMap` says where each of its lines was written ("line 3", "prelude line 2", "In [4] line 7").

Names the kernel got from Manim are the exception: `kernel_manim_imports` gives the import lines
to send along (it reads the kernel's namespace and `sys.modules`, importing nothing).
"""
from __future__ import annotations

import ast
import builtins
import functools
import operator
import re
import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._logging import get_logger
from .manim_names import manim_names

__all__ = ["Preflight", "preflight", "join_prelude", "NotebookCode", "LineMap", "free_names", "kernel_manim_imports",
           "leading_config"]

logger = get_logger("kodisc_jupyter.preflight")

_IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Names Python provides without a binding in the source (module dunders, the implicit `__class__`
# cell of methods, class-body names).
_IMPLICIT = frozenset(
    {"__name__", "__file__", "__doc__", "__spec__", "__loader__", "__package__", "__builtins__",
     "__annotations__", "__class__", "__module__", "__qualname__", "__debug__"}
)
_BUILTINS = frozenset(dir(builtins)) | _IMPLICIT
# callable name -> (keyword parameters that take a file path); the first positional argument too.
_FILE_PARAMETERS: dict[str, tuple[str, ...]] = {
    "ImageMobject": ("filename_or_array",),
    "OpenGLImageMobject": ("filename_or_array",),
    "SVGMobject": ("file_name",),
    "Code": ("code_file", "file_name"),
    "add_sound": ("sound_file",),
    "register_font": ("font_file",),
    "loadtxt": ("fname",),  # numpy
    "genfromtxt": ("fname",),
    "read_csv": ("filepath_or_buffer",),  # pandas
    "open": ("file",),
}
_FILE_LIKE_RE = re.compile(r"[^\s/\\]\.[A-Za-z0-9]{1,5}$")
_URL_RE = re.compile(r"^(?:https?|data|ftp)://|^data:", re.IGNORECASE)


@dataclass(frozen=True)
class Preflight:
    """The outcome of `preflight()`: `source` is exactly what to send (prelude + cell)."""

    class_name: str | None
    source: str = field(repr=False)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Files the code names that the render reads from `beside` (their contents belong in the cache key).
    files: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class NotebookCode:
    """The notebook's definitions sent between the prelude and the cell (built by cells/definitions.py)."""

    code: str
    #: Where each line of `code` was written: "In [3] line 2", "cell 4 line 1", "the notebook's value of R".
    origins: tuple[str, ...]
    #: What it adds, as the summary line names it: "ring_of_dots()", "Badge", "RADIUS".
    names: tuple[str, ...] = ()


def join_prelude(prelude: str, code: str, notebook: NotebookCode | None = None) -> str:
    """The code a render sends: the prelude, the notebook's definitions, then the cell, a blank line between."""
    if notebook is not None:
        code = notebook.code.rstrip() + "\n\n" + code
    if not prelude.strip():
        return code
    return prelude.rstrip() + "\n\n" + code


def preflight(code: str, class_name: str | None = None, *, prelude: str = "", unit: str = "cell",
              notebook: NotebookCode | None = None, beside: Path | None = None) -> Preflight:
    """Check a cell (with the kernel's prelude and the notebook's definitions) and resolve the class to render.

    `unit` is what the messages call the code: "cell" in a notebook, "file" for `kodisc render FILE.py`.
    `beside`: the folder the render reads files from (the embedded server's notebook folder), where a
    relative file name that exists is no warning.
    """
    source = join_prelude(prelude, code, notebook)
    lines = LineMap(prelude, notebook, unit)
    if not code.strip():
        return Preflight(class_name, source, [f"the {unit} is empty: write a Scene subclass to render"])
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate (e.g. from a bad paste) is not text: nothing could send it
        where = lines.where(source.count("\n", 0, exc.start) + 1)
        return Preflight(class_name, source, [f"{where}: {ascii(source[exc.start])} is a lone surrogate, not text; "
                                              "remove it or write the character it was meant to be"])
    if prelude.strip():
        parsed = _parse(prelude, LineMap(), where="prelude line")
        if isinstance(parsed, str):
            return Preflight(class_name, source, [parsed])
    tree = _parse(source, lines)
    if isinstance(tree, str):
        return Preflight(class_name, source, [tree])
    errors: list[str] = []
    classes = _module_classes(tree)
    scenes = _subclasses(classes, lambda base: base.endswith("Scene"))
    resolved = _resolve_class(class_name, classes, scenes, lines, errors)
    errors.extend(_undefined_names(tree, lines))
    warnings, files = _local_files(tree, classes, lines, beside)
    return Preflight(resolved, source, errors, warnings, files)


class LineMap:
    """Where each line of the code sent (prelude, notebook definitions, cell) was written."""

    def __init__(self, prelude: str = "", notebook: NotebookCode | None = None, unit: str = "cell") -> None:
        self.prelude_lines = prelude.rstrip().count("\n") + 2 if prelude.strip() else 0  # the blank line too
        self.origins = notebook.origins if notebook is not None else ()
        #: Lines before the cell's first.
        self.offset = self.prelude_lines + (len(self.origins) + 1 if self.origins else 0)
        self.unit = unit

    def where(self, lineno: int | None) -> str:
        if lineno is None:
            return self.unit
        if lineno <= self.prelude_lines:
            return f"prelude line {lineno}"
        if lineno <= self.offset:
            return self.origins[min(lineno - self.prelude_lines, len(self.origins)) - 1]
        return f"line {lineno - self.offset}"

    def from_notebook(self, lineno: int) -> bool:
        """Whether the line is one of the notebook's definitions (written in an earlier cell)."""
        return self.prelude_lines < lineno <= self.offset

    def explain(self, message: str) -> str:
        """A render's error with each line number of the code sent given as where the user wrote it:
        `(line 9: ...)` and a traceback's `File "scene.py", line 9` become "line 2", "In [3] line 4"..."""
        if not self.offset:
            return message
        message = _FILE_LINE_RE.sub(lambda match: match.group(1) + self.where(int(match.group(2))), message)
        return _LINE_RE.sub(lambda match: match.group(1) + self.where(int(match.group(2))), message)


# `File "scene.py", line 9`: a traceback's frame in the scene file (a relative or <string> name, or a
# scene.py that is not a library's, such as Manim's own manim/scene/scene.py)
_FILE_LINE_RE = re.compile(r'(File "(?![^"]*(?:site|dist)-packages)(?:[^"/]*|[^"]*/scene\.py)", )line (\d+)\b')
_LINE_RE = re.compile(r"(\(|^|\n)line (\d+)\b")


def _parse(source: str, lines: LineMap, where: str | None = None) -> ast.Module | str:
    """The tree, or the one line that says where the code does not parse (the code is parsed once)."""
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        place = f"{where} {exc.lineno}" if where and exc.lineno else lines.where(exc.lineno)
        text = (exc.text or "").strip()
        detail = f": {text[:80]}" if text else ""
        return f"{place}: {type(exc).__name__}: {exc.msg}{detail}"
    except ValueError as exc:  # e.g. a NUL byte in the source
        return f"the code cannot be parsed: {exc}"


def _module_classes(tree: ast.Module) -> dict[str, ast.ClassDef]:
    """Classes defined at module level, also inside module-level if/try/with blocks."""
    classes: dict[str, ast.ClassDef] = {}
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, ast.ClassDef):
            classes[node.name] = node
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for name in ("body", "orelse", "finalbody"):
                pending.extend(getattr(node, name, []))
            for handler in getattr(node, "handlers", []):
                pending.extend(handler.body)
    return classes


def _base_names(node: ast.ClassDef) -> list[str]:
    names = []
    for base in node.bases:
        if isinstance(base, ast.Subscript):  # Generic[T]-style bases
            base = base.value
        if isinstance(base, ast.Name):
            names.append(base.id)
        elif isinstance(base, ast.Attribute):
            names.append(base.attr)
    return names


def _subclasses(classes: dict[str, ast.ClassDef], is_root: Callable[[str], bool]) -> dict[str, ast.ClassDef]:
    """Classes deriving from a root base (by name), directly or through other classes of the code."""
    found: dict[str, ast.ClassDef] = {}
    changed = True
    while changed:
        changed = False
        for name, node in classes.items():
            if name not in found and any(is_root(base) or base in found for base in _base_names(node)):
                found[name] = node
                changed = True
    return found


def _resolve_class(
    class_name: str | None,
    classes: dict[str, ast.ClassDef],
    scenes: dict[str, ast.ClassDef],
    lines: LineMap,
    errors: list[str],
) -> str | None:
    if class_name is not None:
        if not _IDENTIFIER_RE.fullmatch(class_name):
            errors.append(f"class name {class_name!r} is not a Python identifier")
        elif class_name not in classes:
            listed = ", ".join(sorted(scenes or classes)) or "none"
            errors.append(f"class {class_name!r} is not defined in the {lines.unit} (classes defined: {listed})")
        elif set(_base_names(classes[class_name])) <= {"object"} and not classes[class_name].keywords:
            listed = ", ".join(sorted(scenes)) or "none"
            errors.append(f"class {class_name!r} is not a Scene: it derives from no class "
                          f"(scenes in the {lines.unit}: {listed})")
        return class_name
    in_cell = {name: node for name, node in scenes.items() if node.lineno > lines.offset}
    if not in_cell:
        errors.append(
            f"no Scene subclass is defined in the {lines.unit} (a class deriving from Scene, ThreeDScene, ...); "
            "define one or name the class to render"
        )
        return None
    bases = {base for node in in_cell.values() for base in _base_names(node)}
    leaves = [name for name in in_cell if name not in bases]  # a helper base scene is not a candidate
    if len(leaves) == 1:
        return leaves[0]
    errors.append(
        f"the {lines.unit} defines several scenes ({', '.join(sorted(leaves or in_cell))}); name the one to render"
    )
    return None


def _undefined_names(tree: ast.Module, lines: LineMap) -> list[str]:
    """Names the prelude and cell use that nothing defines (a notebook definition's own may never run)."""
    first_use = _free_names(tree, skip=lines.from_notebook)
    if not first_use:
        return []
    return [_undefined_message(sorted(first_use.items(), key=lambda item: item[1]), lines,
                               "manim" in _bindings(tree)[1])]


def _free_names(tree: ast.Module, skip: Callable[[int], bool] | None = None, *,
                annotations: bool = False, builtins: bool = False) -> dict[str, int]:
    """Names the code reads but never binds (with the line of their first use, not counting lines
    `skip` says); none when a star import that cannot be listed could provide any name."""
    bound, star_modules = _bindings(tree)
    provided = set(_IMPLICIT if builtins else _BUILTINS) | bound
    for module in star_modules:
        names = manim_names() if module == "manim" else None
        if names is None:
            return {}
        provided |= names
    skipped = set() if annotations else _annotation_nodes(tree)
    first_use: dict[str, int] = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and id(node) not in skipped
                and node.id not in provided and (node.id not in first_use or node.lineno < first_use[node.id])
                and not (skip and skip(node.lineno))):
            first_use[node.id] = node.lineno
    return first_use


def free_names(code: str, prelude: str = "", *, annotations: bool = False, builtins: bool = False) -> list[str]:
    """The names a cell (with its prelude) uses without defining or importing them; [] if it does not parse.
    `annotations`: count the names of annotations too (evaluated when a `def` runs, so they must travel);
    `builtins`: count Python's builtins too (a notebook may have rebound one)."""
    try:
        tree = ast.parse(join_prelude(prelude, code))
    except (SyntaxError, ValueError):
        return []
    return sorted(_free_names(tree, annotations=annotations, builtins=builtins))


def kernel_manim_imports(names: list[str], namespace: Mapping[str, Any]) -> str:
    """Import lines giving a render the Manim names among `names` as the kernel has them (after the
    notebook ran `from manim import *`, `import manim as m`, ...), or "" when none comes from Manim.

    A name counts only when its value is the very object Manim exports (or a Manim module): any
    other notebook variable stays a pre-flight error, since a render cannot see it.
    """
    manim = sys.modules.get("manim")
    if manim is None:
        return ""
    exported = getattr(manim, "__all__", None) or [name for name in dir(manim) if not name.startswith("_")]
    star, lines = False, []
    for name in names:
        if name not in namespace:
            continue
        value = namespace[name]
        if isinstance(value, types.ModuleType) and (value.__name__ + ".").startswith("manim."):
            lines.append(f"import {value.__name__}" if name == value.__name__ else f"import {value.__name__} as {name}")
        elif name in exported and getattr(manim, name, None) is value:
            star = True
        else:
            original = getattr(value, "__name__", None)
            if isinstance(original, str) and original in exported and getattr(manim, original, None) is value:
                lines.append(f"from manim import {original} as {name}")
    return "\n".join(["from manim import *"] * star + lines)


def leading_config(code: str) -> dict[str, Any]:
    """`config.X = <literal>` (or `config["X"] = ...`) settings at the top of a cell, as `%%manim` reads
    them before rendering (`media_width`, `media_embed`); {} when the cell does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return {}
    settings: dict[str, Any] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            break
        target = node.targets[0]
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "config":
            key: Any = target.attr
        elif (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and target.value.id == "config"
              and isinstance(target.slice, ast.Constant)):
            key = target.slice.value
        else:
            break
        try:
            settings[str(key)] = ast.literal_eval(node.value)
        except (ValueError, TypeError, SyntaxError, RecursionError):
            continue  # computed at render time: sent with the cell, not read here
    return settings


def _undefined_message(uses: list[tuple[str, int]], lines: LineMap, star_manim: bool) -> str:
    """One error for all unknown names (a forgotten import makes many), with the fix for Manim's."""
    unit = lines.unit
    where = f"the {unit}, the prelude or the notebook" if unit == "cell" else f"the {unit} or its imports"
    if len(uses) == 1:
        name, lineno = uses[0]
        message = f"{lines.where(lineno)}: name {name!r} is not defined in {where}"
    else:
        listed = ", ".join(f"{name!r} ({lines.where(lineno)})" for name, lineno in uses[:6])
        more = f" and {len(uses) - 6} more" if len(uses) > 6 else ""
        message = f"names not defined in {where}: {listed}{more}"
    known = manim_names() if not star_manim else None
    from_manim = [name for name, _ in uses if known and name in known]
    if from_manim:
        message += f"; {', '.join(from_manim[:3])} come{'s' if len(from_manim) == 1 else ''} from Manim: add `from manim import *`"
    return message


def _bindings(tree: ast.Module) -> tuple[set[str], list[str]]:
    """Every name bound anywhere in the code (any scope), and the modules star-imported."""
    bound: set[str] = set()
    star_modules: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Import):
            bound.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    star_modules.append("." * node.level + (node.module or ""))
                else:
                    bound.add(alias.asname or alias.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
        elif type(node).__name__ in ("TypeVar", "ParamSpec", "TypeVarTuple"):  # PEP 695 (Python 3.12+)
            bound.add(node.name)  # type: ignore[attr-defined]
    return bound, star_modules


def _annotation_nodes(tree: ast.Module) -> set[int]:
    """Nodes inside annotations: often never evaluated (PEP 563, strings), so never reported."""
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            roots.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            roots.append(node.annotation)
    return {id(inner) for root in roots for inner in ast.walk(root)}


def _local_files(tree: ast.Module, classes: dict[str, ast.ClassDef], lines: LineMap,
                 beside: Path | None) -> tuple[list[str], tuple[str, ...]]:
    """A warning for each local file the code names that the render cannot read, and the names it reads beside."""
    file_parameters = dict(_FILE_PARAMETERS)
    for root in ("ImageMobject", "SVGMobject"):
        for name in _subclasses(classes, functools.partial(operator.eq, root)):
            file_parameters.setdefault(name, _FILE_PARAMETERS[root])
    found: list[tuple[int, int, str]] = []
    readable: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        keywords = file_parameters.get(callee or "")
        if keywords is None:
            continue
        arguments = node.args[:1] + [kw.value for kw in node.keywords if kw.arg in keywords]
        for argument in arguments:
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str) and _is_local_file(argument.value):
                reason = _local_file_reason(argument.value, beside)
                if reason is None:
                    readable.add(argument.value)
                    continue
                shown = argument.value if len(argument.value) <= 60 else argument.value[:57] + "..."
                message = f"{lines.where(node.lineno)}: {callee}({shown!r}) {reason}"
                found.append((argument.lineno, argument.col_offset, message))
    return [message for *_, message in sorted(found)], tuple(sorted(readable))


def _local_file_reason(path: str, beside: Path | None) -> str | None:
    """Why the file will not be found, or None when it will: only the embedded local server reads files,
    those in the folder it was given (`beside`, the notebook's), as `%%manim` does; Kodisc and a shared
    `kodisc serve` render in a folder of their own."""
    if beside is not None:
        try:
            found = (beside / Path(path).expanduser()).resolve().is_relative_to(beside) and (beside / path).exists()
        except (OSError, ValueError):
            found = False
        return None if found else f"uses a file that is not in the notebook's folder ({beside}), the only one renders read"
    if Path(path).expanduser().is_absolute():
        return ("uses a local file: a Kodisc render cannot see your disk, nor can the local server's sandbox "
                "(only `kodisc serve --no-sandbox` can)")
    return ("uses a file beside the notebook: Kodisc cannot read your files (the embedded local server reads the "
            "notebook's folder; elsewhere, load it from a URL or draw it in code)")


def _is_local_file(text: str) -> bool:
    if not text.strip() or "\n" in text or _URL_RE.match(text):
        return False
    if _FILE_LIKE_RE.search(text):
        return True
    try:
        return Path(text).expanduser().exists()
    except (OSError, ValueError):
        return False

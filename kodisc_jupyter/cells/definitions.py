"""The notebook's definitions a `%%kodisc` cell uses, as code sent with it (`%%manim` execs the cell
in the notebook's namespace; a render sees only the code it is sent).

`resolve()` is pure: it takes the cell, the notebook's cell sources (in the order they ran) and,
in a kernel, its namespace, and returns the code to send between the prelude and the cell, the
names it adds, and the problems that stop a render. What travels:

- functions, classes and `name = lambda ...`, as their latest source in the cells;
- the notebook's imports (`import numpy as np`, `from math import tau as T`), and the names it got
  from `from manim import *`;
- values written as literals: numbers, strings, bools, None, Manim colours, numpy arrays up to
  100 KB, and lists, tuples, dicts and sets of these;
- Manim `config` settings of earlier cells (they apply to every later `%%manim` render), except
  those the render's request owns; `config.media_width`/`media_embed` become player settings.

A `%%capture`, `%%time` or `%%manim` cell's body ran in the namespace, so it counts as a cell.

Names are resolved transitively (what a helper uses travels too) and emitted in dependency order:
imports first, then each definition after the ones it needs. Without a namespace (`kodisc render
NOTEBOOK.ipynb`) only sources are known: a value travels when its latest assignment is a literal,
written by the same writer the kernel uses, so the text sent (and the cache key) is the same.
"""
from __future__ import annotations

import ast
import builtins
import inspect
import io
import math
import socket
import sys
import textwrap
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._redact import KEY_LIKE_RE
from ..rendering.preflight import NotebookCode, free_names, kernel_manim_imports

__all__ = ["Resolution", "resolve", "literal", "python_source", "parses", "Unwritable", "MAX_VALUE_BYTES", "PLAYER_SETTINGS",
           "MANIM_IMPORT", "EXEC_MAGICS"]

MAX_VALUE_BYTES = 100_000  # a value bigger than this is data, not a constant: load or compute it in the scene
#: `config.X` settings of earlier cells that size the player (as under `%%manim`), not the render.
PLAYER_SETTINGS = ("media_width", "media_embed")
#: Cell magics that run their body in the notebook's namespace: what it defines is the notebook's.
EXEC_MAGICS = frozenset({"capture", "time", "manim"})
#: `config.X` settings the render's own request and Kodisc own (size, rate, files, logs): not sent.
RENDER_SETTINGS = frozenset({
    "pixel_width", "pixel_height", "frame_rate", "quality", "media_dir", "video_dir", "images_dir", "tex_dir",
    "text_dir", "partial_movie_dir", "output_file", "preview", "show_in_file_browser", "verbosity", "progress_bar",
    "disable_caching", "flush_cache", "write_to_movie", "write_all", "save_last_frame", "save_pngs", "save_as_gif",
    "format", "renderer", "transparent", "scene_names", "log_to_file", "log_dir", "dry_run", "zero_pad",
    "from_animation_number", "upto_animation_number", "input_file", "assets_dir", "custom_folders", "window_size",
    "window_position", "window_monitor", "fullscreen", "enable_gui", "gui_location", "force_window"})
_MISSING = object()
_BUILTINS = vars(builtins)
MANIM_IMPORT = "the notebook's Manim import"  # the origin of the kernel's own Manim import lines


class Unwritable(ValueError):
    """A value that cannot be written as code; the message says why, in a few words."""


@dataclass(frozen=True)
class Resolution:
    """What travels with a cell: `notebook` (None when nothing does), the problems that stop the render
    (one line each, naming the value and why), and the player settings earlier cells made."""

    notebook: NotebookCode | None
    problems: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Binding:
    """The latest top-level statement of the notebook that bound a name."""

    kind: str  # "def" | "class" | "lambda" | "import" | "assign" | "other"
    text: str  # the code to send for it (for an import: this one name's import)
    where: str  # "cell 3" / "In [3]"
    lineno: int  # its first line in that cell
    node: ast.AST | None = None  # assign: the value expression
    module: str = ""  # import: the module, and the attribute for `from X import a`
    attribute: str | None = None

    def origins(self) -> list[str]:
        """Where each line of `text` was written."""
        return [f"{self.where} line {self.lineno + offset}" for offset in range(self.text.count("\n") + 1)]


@dataclass
class _Piece:
    text: str
    origins: list[str]
    shown: str | None  # the name in the summary ("f()", "Badge", "RADIUS"); None for imports
    is_import: bool = False


def resolve(cell: str, sources: Sequence[tuple[str, str]], namespace: Mapping[str, Any], *, kernel: bool = True,
            prelude: str = "", class_name: str | None = None) -> Resolution:
    """The notebook code `cell` needs. `sources` are (label, source) of the cells in the order they ran
    ("In [3]" in a kernel, "cell 3" in a saved notebook). `namespace` is the kernel's; for a saved notebook
    (`kernel=False`) it holds only what its Manim imports give, and the rest is known from sources alone
    (a computed value is then a problem that says so)."""
    index = _Index(sources)
    wanted = free_names(cell, prelude, annotations=True, builtins=True)
    if class_name and class_name not in wanted and class_name in index.bindings and not _defines(cell, class_name):
        wanted.append(class_name)  # `%%kodisc OldScene`: a scene of an earlier cell, as %%manim renders it
    resolver = _Resolver(index, namespace, kernel)
    for name in wanted:
        resolver.want(name)
    resolver.config(set(_Index([("prelude", prelude)]).config) if prelude.strip() else set())
    return Resolution(resolver.result(), tuple(resolver.problems), index.player_settings)


def _defines(code: str, name: str) -> bool:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(node, ast.ClassDef) and node.name == name for node in ast.walk(tree))


class _Index:
    """Each name's latest top-level binding in the notebook's sources, the modules star-imported, and
    the Manim config settings (to send) and player settings (to apply) the cells made."""

    def __init__(self, sources: Sequence[tuple[str, str]]) -> None:
        self.bindings: dict[str, _Binding] = {}
        self.star_modules: list[str] = []
        self.player_settings: dict[str, Any] = {}
        self.config: dict[str, _Binding] = {}  # Manim's config set by earlier cells, latest per key in run order
        for where, source in sources:
            self._read(source, where)

    def _read(self, source: str, where: str) -> None:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            return
        self._walk(tree.body, source, where)

    def _walk(self, body: list[ast.stmt], source: str, where: str) -> None:
        """Top-level statements, also inside top-level if/try/with blocks (`try: import x ...`)."""
        for node in body:
            if isinstance(node, (ast.If, ast.Try, ast.With)) or type(node).__name__ == "TryStar":
                for item in getattr(node, "items", []):
                    for name in _target_names(item.optional_vars):
                        self.bindings[name] = _Binding("other", "", where, node.lineno)
                self._walk(getattr(node, "body", []), source, where)
                for handler in getattr(node, "handlers", []):
                    self._walk(handler.body, source, where)
                self._walk(getattr(node, "orelse", []) + getattr(node, "finalbody", []), source, where)
            elif (magic_body := _exec_magic_body(node)) is not None:  # `%%capture` in a kernel's `In`: its body ran
                self._read("\n" + python_source(magic_body), where)  # the body starts on the cell's line 2
            else:
                self._add(node, source, where)

    def _add(self, node: ast.stmt, source: str, where: str) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kind = "class" if isinstance(node, ast.ClassDef) else "def"
            first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
            self.bindings[node.name] = _Binding(kind, _segment(source, first, node), where, first)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                text = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                module = alias.name if alias.asname else name
                self.bindings[name] = _Binding("import", text, where, node.lineno, module=module)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            for alias in node.names:
                if alias.name == "*":
                    self.star_modules.append(node.module)
                    continue
                text = f"from {node.module} import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                self.bindings[alias.asname or alias.name] = _Binding("import", text, where, node.lineno,
                                                                     module=node.module, attribute=alias.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets: list[ast.expr] = list(node.targets) if isinstance(node, ast.Assign) else [node.target]
            self._config_setting(targets, node, source, where)
            for target in targets:
                single = isinstance(target, ast.Name) and len(targets) == 1
                for name in _target_names(target):
                    if single and isinstance(node.value, ast.Lambda):
                        self.bindings[name] = _Binding("lambda", _segment(source, node.lineno, node), where, node.lineno)
                    else:
                        self.bindings[name] = _Binding("assign", "", where, node.lineno,
                                                       node=node.value if single else None)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                for name in _target_names(target):
                    self.bindings.pop(name, None)
        else:  # a for loop, a with, an augmented assignment...: bound, but only a kernel knows to what
            for name in _bound_names(node):
                self.bindings[name] = _Binding("other", "", where, node.lineno)

    def _config_setting(self, targets: list[ast.expr], node: ast.Assign | ast.AnnAssign, source: str, where: str) -> None:
        """`config.background_color = WHITE` (or `config["..."]`) in an earlier cell applies to later renders
        under `%%manim`, so the statement travels; `config.media_width`/`media_embed` size the player instead."""
        for target in targets:
            base = target.value if isinstance(target, (ast.Attribute, ast.Subscript)) else None
            if not (isinstance(base, ast.Name) and base.id == "config"):
                continue
            key = (target.attr if isinstance(target, ast.Attribute)
                   else getattr(getattr(target, "slice", None), "value", None))
            if key in PLAYER_SETTINGS:
                try:
                    self.player_settings[key] = ast.literal_eval(node.value)  # type: ignore[arg-type]
                except (ValueError, TypeError, SyntaxError, RecursionError):
                    self.player_settings.pop(key, None)
            elif isinstance(key, str) and key not in RENDER_SETTINGS and len(targets) == 1:
                self.config.pop(key, None)  # re-inserted: the order they last ran in
                self.config[key] = _Binding("config", _segment(source, node.lineno, node), where, node.lineno)


def python_source(source: str) -> str:
    """A cell as Python: its line magics and shell commands blanked (the line numbers stay)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))


def _exec_magic_body(node: ast.stmt) -> str | None:
    """The body of `get_ipython().run_cell_magic('capture', '', body)` (IPython's form of a `%%capture`
    cell in `In`) for a cell magic that runs its body in the notebook's namespace; None otherwise."""
    call = node.value if isinstance(node, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "run_cell_magic"
            and len(call.args) == 3 and all(isinstance(arg, ast.Constant) and isinstance(arg.value, str) for arg in call.args)):
        return None
    magic, _, body = (arg.value for arg in call.args)  # type: ignore[attr-defined]
    return body if magic in EXEC_MAGICS else None


def _segment(source: str, first: int, node: ast.stmt) -> str:
    lines = source.splitlines()[first - 1:node.end_lineno]
    return textwrap.dedent("\n".join(lines))


def _target_names(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for element in target.elts for name in _target_names(element)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []


def _bound_names(node: ast.AST) -> list[str]:
    return [inner.id for inner in ast.walk(node) if isinstance(inner, ast.Name) and not isinstance(inner.ctx, ast.Load)]


class _Resolver:
    def __init__(self, index: _Index, namespace: Mapping[str, Any], kernel: bool) -> None:
        self.index = index
        self.namespace = namespace
        self.kernel = kernel
        self.pieces: list[_Piece] = []
        self.problems: list[str] = []
        self.seen: set[str] = set()
        self.manim_names: list[str] = []  # resolved to the kernel's own Manim imports
        self.needs: set[str] = set()  # what the literals need: "numpy", "ManimColor"

    # -- one name ---------------------------------------------------------------------------------

    def want(self, name: str) -> None:
        if name in self.seen:
            return
        self.seen.add(name)
        try:
            self._resolve(name)
        except Exception as exc:  # a kernel object whose attributes raise (a proxy, a broken __getattr__), or too deep
            self.problems.append(f"the notebook's {name!r} cannot be sent with the cell: looking at it raised "
                                 f"{type(exc).__name__}")

    def _resolve(self, name: str) -> None:
        binding = self.index.bindings.get(name)
        value = self.namespace.get(name, _MISSING)
        if name in _BUILTINS and (binding is None or value is _BUILTINS[name]):
            return  # Python's own, unless a cell rebound it (`max = 3`)
        if self.kernel and value is _MISSING:
            return  # defined nowhere: the pre-flight says so for the cell's own names; a helper's may never run
        if binding is not None and binding.kind == "import" and self._is_import(binding, value):
            self._add(binding.text, [f"{binding.where} line {binding.lineno}"], None, is_import=True)
        elif self._from_manim(name, value):  # what the notebook's `from manim import *` gave it
            return
        elif binding is not None and binding.kind in ("def", "class", "lambda") and self._is_definition(binding, name, value):
            self._definition(name, binding)
        elif self.kernel:
            self._from_value(name, value)
        elif binding is not None:
            self._from_source(name, binding)

    def config(self, prelude_keys: set[str]) -> None:
        """The Manim config settings earlier cells made (not those the prelude makes: it is Kodisc's own)."""
        settings = {key: binding for key, binding in self.index.config.items() if key not in prelude_keys}
        if not settings:
            return
        if "config" not in self.seen:
            self.seen.add("config")
            self._from_manim("config", self.namespace.get("config", _MISSING))
        if "config" not in self.manim_names:  # not Manim's config: a variable of the notebook's own
            return
        for key, binding in settings.items():
            for used in free_names(binding.text, annotations=True, builtins=True):
                self.want(used)
            self._add(binding.text, binding.origins(), f"config.{key}")

    def _from_manim(self, name: str, value: Any) -> bool:
        if value is _MISSING:
            return False
        if kernel_manim_imports([name], {name: value}):
            self.manim_names.append(name)
            return True
        return False

    def _is_import(self, binding: _Binding, value: Any) -> bool:
        """Whether the kernel's value is what the import gives (no kernel: trust the source)."""
        if not self.kernel:
            return True
        module = sys.modules.get(binding.module)
        if module is None:
            return False
        if binding.attribute is None:
            return value is module or (isinstance(value, types.ModuleType) and binding.module.startswith(value.__name__ + "."))
        return getattr(module, binding.attribute, _MISSING) is value

    def _is_definition(self, binding: _Binding, name: str, value: Any) -> bool:
        if not self.kernel:
            return True
        if binding.kind == "lambda":
            return isinstance(value, types.FunctionType) and value.__name__ == "<lambda>"
        return (isinstance(value, type) if binding.kind == "class" else callable(value)) \
            and getattr(value, "__name__", None) == name and getattr(value, "__module__", None) == "__main__" \
            and _same_code(_own_source(value), binding.text)  # not from a cell that failed before its def ran

    def _definition(self, name: str, binding: _Binding) -> None:
        for used in free_names(binding.text, annotations=True, builtins=True):
            if used != name:
                self.want(used)
        self._add(binding.text, binding.origins(), f"{name}()" if binding.kind == "def" else name)

    def _from_value(self, name: str, value: Any) -> None:
        """A kernel value with no usable source binding: a module, something importable, or a literal."""
        if isinstance(value, types.ModuleType):
            alias = "" if value.__name__ == name else f" as {name}"
            self._add(f"import {value.__name__}{alias}", [f"the notebook's import of {name}"], None, is_import=True)
            return
        importable = _import_line(name, value, self.index.star_modules)
        if importable:
            self._add(importable, [f"the notebook's import of {name}"], None, is_import=True)
            return
        if isinstance(value, (types.FunctionType, type)):  # not importable: the notebook's own
            original = value.__name__
            if original != name and original.isidentifier() and self.namespace.get(original) is value:
                self.want(original)  # `g = f`: f's definition, then the alias
                self._add(f"{name} = {original}", [f"the notebook's {name} (= {original})"], name)
            else:
                self._source_of(name, value)
            return
        self._value(name, value, "the notebook's")

    def _source_of(self, name: str, value: Any) -> None:
        """A notebook function or class whose cell is not in the sources (e.g. defined by %run): its own source."""
        original = value.__name__
        text = _own_source(value)
        why = None
        if getattr(getattr(value, "__code__", None), "co_freevars", ()):
            why = f"it is a function made by another function (a closure); write `def {name}(...)` in a cell"
        elif text is None or not parses(text):
            kind = "a lambda" if original == "<lambda>" else "a class" if isinstance(value, type) else "a function"
            why = f"it is {kind} without source (made by exec or eval?); define it with def/class in a cell"
        elif original == "<lambda>":
            why = f"it is a lambda whose source is not its own statement; write `def {name}(...)` in a cell"
        if why is not None:
            self.problems.append(f"the notebook's {name!r} cannot be sent with the cell: {why}")
            return
        assert text is not None
        kind = "class" if isinstance(value, type) else "def"
        self._definition(original, _Binding(kind, text, f"the notebook's {original}", 1))
        if original != name:  # made under another name (`g = f; del f`): the definition, then this name
            self._add(f"{name} = {original}", [f"the notebook's {name} (= {original})"], name)

    def _from_source(self, name: str, binding: _Binding) -> None:
        """No kernel: a literal assignment travels; anything computed is only known by running the notebook."""
        try:
            if binding.node is None:
                raise ValueError
            value = ast.literal_eval(binding.node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            self.problems.append(f"{name!r} is computed in {binding.where} (line {binding.lineno}): only running "
                                 "the notebook knows its value (execute it, or assign a literal)")
            return
        self._value(name, value, f"{binding.where}'s")

    def _value(self, name: str, value: Any, whose: str) -> None:
        """`name = <literal>`, or the problem saying why the value cannot be written."""
        try:
            statement = f"{name} = {literal(value, self.needs)}"
        except Unwritable as exc:
            self.problems.append(f"{whose} {name!r} cannot be sent with the cell: {exc}")
            return
        self._add(statement, [f"the notebook's value of {name}"] * (statement.count("\n") + 1), name)

    def _add(self, text: str, origins: list[str], shown: str | None, *, is_import: bool = False) -> None:
        self.pieces.append(_Piece(text, origins, shown, is_import))

    # -- the block --------------------------------------------------------------------------------

    def result(self) -> NotebookCode | None:
        """Imports first (the kernel's Manim import, what the literals need, the notebook's), then each
        definition in dependency order (the order they were resolved: what a definition uses comes first)."""
        head: list[tuple[str, str]] = []
        manim = kernel_manim_imports(self.manim_names, self.namespace) if self.manim_names else ""
        for line in manim.splitlines():
            head.append((line, MANIM_IMPORT))
        if "ManimColor" in self.needs and "from manim import *" not in manim:
            head.append(("from manim import ManimColor", "a Manim colour of the notebook"))
        if "numpy" in self.needs:
            head.append(("import numpy", "a numpy value of the notebook"))
        imports = [piece for piece in self.pieces if piece.is_import]
        head += [(piece.text, piece.origins[0]) for piece in imports if (piece.text, piece.origins[0]) not in head]
        body = [piece for piece in self.pieces if not piece.is_import]
        if not head and not body:
            return None
        lines = [text for text, _ in head]
        origins = [origin for _, origin in head]
        for piece in body:
            if lines:
                lines.append("")
                origins.append(piece.origins[0])
            lines += piece.text.split("\n")
            origins += piece.origins
        names = tuple(piece.shown for piece in body if piece.shown)
        return NotebookCode("\n".join(lines), tuple(origins), names)


def _own_source(value: Any) -> str | None:
    """The source of a kernel function or class as IPython keeps it (linecache), or None when it has none."""
    try:
        return textwrap.dedent(inspect.getsource(value)).rstrip("\n")
    except (OSError, TypeError):
        return None


def parses(code: str) -> bool:
    """Whether `code` is Python that parses."""
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _same_code(source: str | None, text: str) -> bool:
    """Whether a kernel object's own source (None: unknown, so trusted) is the binding's code, comments aside."""
    if source is None or source == text:
        return True
    try:
        return ast.dump(ast.parse(source)) == ast.dump(ast.parse(text))
    except (SyntaxError, ValueError):
        return False


def _import_line(name: str, value: Any, star_modules: list[str]) -> str:
    """`from module import attr as name` when the kernel's value is that module attribute (a function or
    class imported some way the sources do not show, or by a star import); "" otherwise."""
    candidates = []
    module_name, attribute = getattr(value, "__module__", None), getattr(value, "__name__", None)
    if isinstance(module_name, str) and isinstance(attribute, str) and module_name != "__main__":
        candidates.append((module_name, attribute))
    candidates += [(module, name) for module in reversed(star_modules)]
    for module_name, attribute in candidates:
        module = sys.modules.get(module_name)
        if module is not None and attribute.isidentifier() and getattr(module, attribute, _MISSING) is value:
            return f"from {module_name} import {attribute}" + (f" as {name}" if attribute != name else "")
    return ""


# -- values as code ----------------------------------------------------------------------------------


def literal(value: Any, needs: set[str] | None = None) -> str:
    """`value` as Python code that rebuilds it exactly; `needs` collects "numpy" / "ManimColor" when the code
    uses them. Raises `Unwritable` (saying why) for anything else, or for more than MAX_VALUE_BYTES of it."""
    needs = needs if needs is not None else set()
    text = _Writer(needs).write(value, ())
    if KEY_LIKE_RE.search(text):
        raise Unwritable("it holds a Kodisc API key, and keys never leave the kernel")
    if len(text) > MAX_VALUE_BYTES:
        raise Unwritable(f"written out it is {len(text) // 1000} KB (over {MAX_VALUE_BYTES // 1000} KB): "
                         "compute or load it inside the scene")
    return text


class _Writer:
    def __init__(self, needs: set[str]) -> None:
        self.needs = needs
        self.size = 0

    def write(self, value: Any, parents: tuple[int, ...]) -> str:
        text = self._write(value, parents)
        self.size += len(text)
        if self.size > 4 * MAX_VALUE_BYTES:  # stop early on a huge container
            raise Unwritable(f"it is over {MAX_VALUE_BYTES // 1000} KB written out: compute or load it inside the scene")
        return text

    def _write(self, value: Any, parents: tuple[int, ...]) -> str:
        kind = type(value)
        if value is None or kind in (bool, int, str, bytes):
            return repr(value)
        if kind is float:
            return _float(value)
        if kind is complex:
            return f"complex({_float(value.real)}, {_float(value.imag)})"
        if kind.__name__ == "ManimColor" and kind.__module__.startswith("manim."):
            return self._colour(value)
        if kind.__module__ == "numpy":
            return self._numpy(value)
        if kind in (list, tuple, set, frozenset, dict):
            if id(value) in parents:
                raise Unwritable("it contains itself")
            inner = (*parents, id(value))
            if kind is dict:
                return "{" + ", ".join(f"{self.write(k, inner)}: {self.write(v, inner)}" for k, v in value.items()) + "}"
            items = [self.write(item, inner) for item in value]
            if kind is list:
                return "[" + ", ".join(items) + "]"
            if kind is tuple:
                return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
            items.sort()  # a set's order changes with the process's string hashing: the code sent must not
            if not items:
                return "set()" if kind is set else "frozenset()"
            return "{" + ", ".join(items) + "}" if kind is set else "frozenset({" + ", ".join(items) + "})"
        raise Unwritable(_why_not(value))

    def _colour(self, colour: Any) -> str:
        self.needs.add("ManimColor")
        rgba = [float(part) for part in colour._internal_value]
        hex_text = colour.to_hex(with_alpha=rgba[3] != 1.0)
        if [float(part) for part in type(colour)(hex_text)._internal_value] == rgba:
            return f"ManimColor({hex_text!r})"
        return "ManimColor([" + ", ".join(map(_float, rgba)) + "])"

    def _numpy(self, value: Any) -> str:
        import numpy

        self.needs.add("numpy")
        if isinstance(value, numpy.ndarray):
            if value.dtype.kind not in "biufc":
                raise Unwritable(f"it is a numpy array of {value.dtype}: only numbers can be written as code")
            if value.nbytes > MAX_VALUE_BYTES:
                raise Unwritable(f"it is a numpy array of {value.nbytes // 1000} KB (over {MAX_VALUE_BYTES // 1000} "
                                 "KB): compute or load it inside the scene")
            data = self._nested(value.tolist())
            reshape = f".reshape({value.shape!r})" if value.size == 0 and value.ndim > 1 else ""
            return f"numpy.array({data}, dtype=numpy.{value.dtype.name}){reshape}"
        if isinstance(value, numpy.generic) and value.dtype.kind in "biufc":
            return f"numpy.{type(value).__name__}({self._nested(value.item())})"
        raise Unwritable(_why_not(value))

    def _nested(self, data: Any) -> str:
        if isinstance(data, list):
            return "[" + ", ".join(self._nested(item) for item in data) + "]"
        if isinstance(data, float):
            return _float(data)
        if isinstance(data, complex):
            return f"complex({_float(data.real)}, {_float(data.imag)})"
        return repr(data)


def _float(number: float) -> str:
    if math.isfinite(number):
        return repr(number)
    return f"float({str(number)!r})"  # float('nan'), float('inf'), float('-inf')


def _why_not(value: Any) -> str:
    """Why a value cannot be written as code, in the user's terms."""
    kind = type(value)
    if isinstance(value, io.IOBase):
        return "it is an open file: a render cannot see your files; read the data into a literal or open it in the scene"
    if isinstance(value, socket.socket):
        return "it is a socket: a render has no network connection of the kernel's"
    if isinstance(value, (types.GeneratorType, types.CoroutineType)):
        return f"it is a running {kind.__name__}: create it inside the scene"
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return "it is a function that has no importable name or source of its own"
    qualname = f"{kind.__module__}.{kind.__qualname__}" if kind.__module__ not in ("builtins", "__main__") else kind.__qualname__
    return (f"it is an instance of {qualname}, made in the kernel: only code and plain values travel; "
            "create it inside the scene (or in a function the scene calls)")

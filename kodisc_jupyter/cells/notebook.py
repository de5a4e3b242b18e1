"""The `%%kodisc` cells of a notebook, each with the request executing the notebook would send.

Executing a notebook top to bottom changes the magic's state as it goes: `%%kodisc_prelude`
sets (or `--clear`s) the prelude, `%config Kodisc.name = value` sets a default, the nearest
pyproject.toml's `[tool.kodisc]` sits below both, and the plain cells define what travels with
later cells (`definitions`). This module replays exactly that, without a kernel, through
`cell_options` (the magic's own parsers, settings and request builder) and the definitions'
resolver on the cells' sources, so a pre-rendered cell has the cache key the executed cell will
compute. Only the notebook's Manim imports are run; a value computed by a cell is known only to a
kernel, and a cell that uses one says so (its RenderCell has an error).
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import options as cell_options
from .definitions import EXEC_MAGICS, parses, python_source, resolve

if TYPE_CHECKING:
    from ..rendering.pipeline import RenderRequest

__all__ = ["NotebookError", "RenderCell", "render_cells"]


class NotebookError(ValueError):
    """The notebook cannot be read as a notebook (one line, naming the file)."""


@dataclass(frozen=True)
class RenderCell:
    """One `%%kodisc` cell: where it is, and its request or why it cannot be made."""

    notebook: Path
    number: int  # 1-based position among the notebook's cells
    backend: str  # the `%config Kodisc.backend` in force: auto | cloud | local
    request: RenderRequest | None = None
    error: str | None = None  # a bad options line or `%config` value: the cell would fail the same way

    @property
    def where(self) -> str:
        return f"{self.notebook} cell {self.number}"


def render_cells(notebook: Path) -> list[RenderCell]:
    """Every `%%kodisc` cell of `notebook`, in order, with the state the cells above it leave."""
    settings = cell_options.KodiscSettings()
    cell_options.apply_pyproject_defaults(settings, notebook.resolve().parent)
    prelude = ""
    namespace: dict[str, Any] = {}  # what the notebook's own Manim imports put in the kernel
    sources: list[tuple[str, str]] = []  # the plain code cells run so far, as Python
    found: list[RenderCell] = []
    for number, source in enumerate(_code_cells(notebook), start=1):
        if source is None:
            continue
        magic, line, body = _cell_magic(source)
        try:
            if magic == "kodisc":
                args = cell_options.CellOptions.from_namespace(cell_options.parse(cell_options.RENDER, line))
                if args.show_code:  # shows its code and sends nothing
                    continue
                travelling = resolve(body, sources, namespace, kernel=False, prelude=prelude, class_name=args.class_name)
                if travelling.problems:
                    found.append(RenderCell(notebook, number, settings.backend, error="; ".join(travelling.problems)))
                    continue
                request = cell_options.render_request(args, settings, body, prelude, travelling.notebook)
                found.append(RenderCell(notebook, number, settings.backend, request))
            elif magic == "kodisc_prelude":
                if cell_options.parse(cell_options.PRELUDE, line).clear:
                    prelude = ""
                elif parses(body):  # a prelude that does not parse leaves the old one, as in the kernel
                    prelude = body
            elif magic is None:
                prelude = _line_magics(source, settings, prelude)
                python = python_source(source)
                _run_manim_imports(python, namespace)
                sources.append((f"cell {number}", python))
            elif magic in EXEC_MAGICS:  # `%%capture`, `%%time`, `%%manim`: the body ran in the namespace
                python = "\n" + python_source(body)
                _run_manim_imports(python, namespace)
                sources.append((f"cell {number}", python))
        except (cell_options.OptionsError, _ConfigError) as exc:
            if magic == "kodisc":
                found.append(RenderCell(notebook, number, settings.backend, error=str(exc)))
            else:
                raise NotebookError(f"{notebook} cell {number}: {exc}") from None
    return found


class _ConfigError(ValueError):
    pass


def _code_cells(notebook: Path) -> list[str | None]:
    """Each cell's source (None for markdown/raw cells), from the .ipynb JSON (nbformat 4)."""
    try:
        data = json.loads(notebook.read_text(encoding="utf-8"))
        cells = data["cells"]
        return [_source(cell["source"]) if cell.get("cell_type") == "code" else None for cell in cells]
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookError(f"cannot read {notebook}: {getattr(exc, 'strerror', None) or exc}") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise NotebookError(f"{notebook} is not a Jupyter notebook (nbformat 4 JSON with a 'cells' list)") from None


def _source(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


def _cell_magic(source: str) -> tuple[str | None, str, str]:
    """(magic name, its options line, the body) when the cell starts with `%%name`, exactly as IPython
    reads it (its cleanup transforms: a final newline, no leading blank lines, the first line's indent off)."""
    if not source.endswith("\n"):
        source += "\n"
    lines = source.splitlines(keepends=True)
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return None, "", source
    indent = lines[0][:len(lines[0]) - len(lines[0].lstrip(" \t"))]
    if indent:
        lines = [line[len(indent):] if line.startswith(indent) else line for line in lines]
    if not lines[0].startswith("%%"):
        return None, "", source
    name, _, line = lines[0][2:].rstrip().partition(" ")
    return name, line, "".join(lines[1:])


def _line_magics(source: str, settings: cell_options.KodiscSettings, prelude: str) -> str:
    """Apply the `%config Kodisc.*` and `%kodisc_prelude --clear` lines of a plain code cell."""
    for raw in source.split("\n"):
        text = raw.strip()
        if text.startswith("%config ") and text[8:].lstrip().startswith("Kodisc."):
            name, value = _config_assignment(text[8:].strip())
            try:
                setattr(settings, name, value)
            except Exception as exc:  # a TraitError, as %config raises in the kernel
                raise _ConfigError(f"{text}: {exc}") from None
        elif text.startswith("%kodisc_prelude") and cell_options.parse(cell_options.PRELUDE, text[15:]).clear:
            prelude = ""
    return prelude


def _run_manim_imports(code: str, namespace: dict[str, Any]) -> None:
    """Run a plain cell's top-level `import manim...`/`from manim... import` statements (and nothing
    else) into `namespace`, so the magic's rule for sending the kernel's Manim import applies here too."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return
    for node in tree.body:
        modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                   else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
        if modules and all(name == "manim" or name.startswith("manim.") for name in modules):
            try:
                exec(compile(ast.Module(body=[node], type_ignores=[]), "<notebook import>", "exec"), namespace)
            except Exception:  # not importable here: in the kernel that cell would have failed too
                continue


def _config_assignment(statement: str) -> tuple[str, Any]:
    """`Kodisc.quality = "low"` -> ("quality", "low"); only literal values can be known without running."""
    try:
        tree = ast.parse(statement, mode="exec").body
        assign = tree[0]
        if len(tree) != 1 or not isinstance(assign, ast.Assign) or len(assign.targets) != 1:
            raise ValueError
        target = assign.targets[0]
        if not isinstance(target, ast.Attribute) or not isinstance(target.value, ast.Name):
            raise ValueError
        value = ast.literal_eval(assign.value)
    except (SyntaxError, ValueError):
        raise _ConfigError(f"%config {statement}: only a literal value (e.g. \"low\", 30, True) can be read "
                           "without running the notebook") from None
    settings = cell_options.KodiscSettings
    if target.attr not in settings.class_trait_names(config=True):
        raise _ConfigError(f"%config {statement}: Kodisc has no setting {target.attr!r}")
    return target.attr, value

"""No false errors on Manim's own documented examples: every `.. manim::` block in the installed
Manim's docstrings (hundreds of real scenes) goes through pre-flight as a cell would."""
from __future__ import annotations

import ast
import functools
import importlib.util
import re
import textwrap
from pathlib import Path

import pytest

from kodisc_jupyter.rendering.preflight import preflight

MANIM_SPEC = importlib.util.find_spec("manim")
pytestmark = [pytest.mark.manim, pytest.mark.skipif(MANIM_SPEC is None, reason="Manim is not installed")]
DIRECTIVE = re.compile(r"(\s*)\.\. manim:: (\w+)")


@functools.lru_cache(maxsize=1)
def documented_examples() -> list[tuple[str, str, str]]:
    """(file, scene name, code) for each `.. manim:: Name` block, as the docs render it."""
    found = []
    for path in sorted(Path(MANIM_SPEC.origin).parent.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            doc = ast.get_docstring(node) or ""
            lines, i = doc.splitlines(), 0
            while i < len(lines):
                match = DIRECTIVE.match(lines[i])
                i += 1
                if not match:
                    continue
                indent = len(match.group(1))
                while i < len(lines) and (not lines[i].strip() or lines[i].strip().startswith(":")):
                    i += 1  # directive options
                block = []
                while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                    block.append(lines[i])
                    i += 1
                code = textwrap.dedent("\n".join(block))
                if ">>>" not in code:  # doctest transcripts are not cells
                    found.append((path.name, match.group(2), code))
    return found  # read once per session: it parses all of Manim


@functools.cache
def checked(code: str):
    return preflight("from manim import *\n\n" + code)


def test_manims_documented_scenes_pass_preflight():
    examples = documented_examples()
    assert len(examples) > 200
    problems = []
    for file, name, code in examples:
        result = checked(code)
        # Manim's OpenGL classes are not in `from manim import *`: those few examples really fail as written.
        errors = [e for e in result.errors if not re.search(r"name 'OpenGL\w+'", e)]
        if errors or result.class_name != name:
            problems.append((file, name, result.class_name, errors))
    assert problems == []


def test_the_documented_sound_example_is_the_one_local_file_warning():
    warned = {name for _, name, code in documented_examples() if checked(code).warnings}
    assert warned == {"SoundExample"}  # self.add_sound("click.wav")

"""The names `from manim import *` provides, listed by a short subprocess and cached per Manim version.

The pre-flight needs them to tell a Manim name from one the notebook defined, without importing
Manim in the kernel (slow, and it configures Manim's logging there).
"""
from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import importlib.util
import json
import subprocess
import sys

from .._files import write_atomic
from .._logging import get_logger
from .._paths import data_dir

__all__ = ["manim_names"]

logger = get_logger(__name__)

_LIST_SCRIPT = "import json, manim; print(json.dumps(sorted(n for n in dir(manim) if not n.startswith('_'))))"


def manim_names() -> frozenset[str] | None:
    """The names `from manim import *` provides, or None if unknown (then any name is accepted).

    Listed once per Manim version (kept in memory and under `data_dir()/cache/`).
    """
    if importlib.util.find_spec("manim") is None:
        return None
    try:
        version = importlib.metadata.version("manim")
    except importlib.metadata.PackageNotFoundError:
        return None
    return listed_names(version)


@functools.lru_cache(maxsize=4)
def listed_names(version: str) -> frozenset[str] | None:
    cache_file = data_dir() / "cache" / f"manim-names-{version}.json"
    try:
        return frozenset(json.loads(cache_file.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        pass
    try:
        completed = subprocess.run(
            [sys.executable, "-c", _LIST_SCRIPT], capture_output=True, text=True, timeout=120, check=True
        )
        names = json.loads(completed.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        logger.debug("could not list Manim's names (%s); star imports accept any name", exc)
        return None
    with contextlib.suppress(OSError):  # an unwritable cache only costs the next kernel a lookup
        write_atomic(cache_file, json.dumps(names))
    return frozenset(names)

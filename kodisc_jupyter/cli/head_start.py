"""A head start for a one-shot `kodisc render FILE.py` on the embedded local server.

Before such a command's render can begin, it loads itself, starts the server, and the render
worker imports Manim (about a second). `head_start(argv)` runs first thing in `main()`: when the
command may render on the embedded server it starts that server's first worker at once, so that
Manim's import overlaps all the rest (the server adopts the worker when it starts). argv is only
glanced at (argparse decides later). The worker starts before the backend is known, because
knowing it loads half the package; if the backend is Kodisc after all, the worker is ended unused.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..rendering import session


def head_start(argv: Sequence[str]) -> None:
    files = [arg for arg in argv[1:] if arg.endswith(".py")]
    if not argv or argv[0] != "render" or "--no-wait" in argv or not files:
        return
    choice = _value(argv, "--backend") or "auto"
    if choice not in ("auto", "local"):
        return
    session.current().use_scene_files(Path(files[0]).parent)  # its renders read the files beside FILE.py
    session.current().prestart_local_server()
    from ..contract._errors import KodiscError
    from ..rendering.backend import resolve_backend

    try:
        local = resolve_backend(choice, start=False).name == "local"
    except KodiscError:  # the command itself says what is wrong
        local = False
    if not local:
        session.current().stop_local_server()


def _value(argv: Sequence[str], option: str) -> str | None:
    for index, arg in enumerate(argv):
        if arg == option and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return None

"""Helpers for the notebook tests (imported by the tests as `nbrun`; conftest holds the fixtures)."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
KERNEL_SPEC = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}


def scene(name: str, body: str = "self.play(Create(Circle()), run_time=0.5)") -> str:
    """A tiny Scene subclass; each name gives distinct code (so no accidental cache hit)."""
    return f"from manim import *\n\n\nclass {name}(Scene):\n    def construct(self):\n        {body}\n"


def simulate(seconds: float = 0.2, fail: str | None = None) -> str:
    """The `--metadata` option that tells the simulated server how long a job takes and how it ends."""
    plan = f'"seconds": {seconds}' + (f', "fail": "{fail}"' if fail else "")
    return f"--metadata '{{\"simulate\": {{{plan}}}}}'"


def kernel_env(home: Path, server: Any | None) -> dict[str, str]:
    """The environment of a test kernel: no key of the developer's, and not seen as a VS Code kernel."""
    dropped = ("KODISC_API_KEY", "KODISC_KEY", "KODISC_BASE_URL", "JUPYTERHUB_API_TOKEN", "VSCODE_PID", "VSCODE_CWD")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["KODISC_HOME"] = str(home)
    env["PYTHONPATH"] = str(REPO)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if server is not None:
        env["KODISC_BASE_URL"] = server.base_url
        env["KODISC_API_KEY"] = server.api_key
    return env


def outputs_of(cell: Any) -> list[dict]:
    return list(cell.get("outputs", []))


def text_of(cell: Any) -> str:
    """Everything a cell printed or displayed, as one string (plain and HTML)."""
    parts = []
    for output in outputs_of(cell):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif output["output_type"] == "error":
            parts.append("\n".join(output["traceback"]))
        else:
            data = output.get("data", {})
            parts += [data.get("text/plain", ""), data.get("text/html", "")]
    return "\n".join(parts)


def error_of(cell: Any) -> dict | None:
    return next((o for o in outputs_of(cell) if o["output_type"] == "error"), None)

"""The two ways a job gets rendered: real Manim in a subprocess, or a simulation.

A renderer's `render(job, folder, width, height)` fills `folder` with video.mp4, thumb.jpg and
captions.vtt and returns None, or returns the error a person should read.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Protocol

from .._files import ASSET_FILES
from ._store import StoredJob

OUTPUT_FILES = tuple(ASSET_FILES.values())
DEFAULT_RENDER_TIMEOUT = 600.0
DEFAULT_MEMORY_LIMIT = 4 * 1024**3
DEFAULT_SIMULATED_SECONDS = 0.3
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class Renderer(Protocol):
    async def render(self, job: StoredJob, folder: Path, width: int, height: int) -> str | None: ...


class ManimRenderer:
    """Runs `_render_job` with this interpreter, in its own process group, with a timeout and a memory cap."""

    def __init__(self, *, timeout: float = DEFAULT_RENDER_TIMEOUT, memory_limit: int = DEFAULT_MEMORY_LIMIT) -> None:
        self.timeout = timeout
        self.memory_limit = memory_limit

    async def render(self, job: StoredJob, folder: Path, width: int, height: int) -> str | None:
        (folder / "scene.py").write_text(job.code, encoding="utf-8")
        args = [str(folder), job.class_name, str(width), str(height), str(job.fps), str(self.memory_limit)]
        with open(folder / "render.log", "wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "kodisc_jupyter.server._render_job", *args, cwd=folder, env=_child_env(),
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
            try:
                await asyncio.wait_for(process.wait(), self.timeout)
            except asyncio.TimeoutError:
                _kill_group(process)
                await process.wait()
                return f"the render took longer than {self.timeout:g} s and was stopped; shorten the scene."
            except BaseException:  # cancelled: the server is stopping
                _kill_group(process)
                raise
        return _read_outcome(folder, process.returncode)


def _child_env() -> dict[str, str]:
    """Our environment minus anything Kodisc (the user's code must not see keys), with our package importable."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("KODISC_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
    return env


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _read_outcome(folder: Path, returncode: int | None) -> str | None:
    try:
        outcome = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        if returncode is not None and returncode < 0:
            reason = f"was killed by signal {-returncode}"
            if -returncode == signal.SIGKILL:
                reason += " (it may have run out of memory)"
        else:
            reason = f"exited with code {returncode} without a result"
        return f"the render process {reason}; simplify the scene and render again."
    if outcome.get("ok"):
        missing = [name for name in OUTPUT_FILES if not (folder / name).is_file()]
        return f"the render produced no {', '.join(missing)}." if missing else None
    return str(outcome.get("error") or "the render failed for an unknown reason.")


class SimulatedRenderer:
    """No Manim: waits `metadata.simulate.seconds` and fails if `metadata.simulate.fail`; writes tiny real files."""

    def __init__(self, sample_dir: Path) -> None:
        self.sample_dir = sample_dir

    async def render(self, job: StoredJob, folder: Path, width: int, height: int) -> str | None:
        plan = job.metadata.get("simulate") if isinstance(job.metadata, dict) else None
        plan = plan if isinstance(plan, dict) else {}
        seconds = plan.get("seconds", DEFAULT_SIMULATED_SECONDS)
        await asyncio.sleep(max(0.0, float(seconds)) if isinstance(seconds, (int, float)) else DEFAULT_SIMULATED_SECONDS)
        if plan.get("fail"):
            message = plan["fail"] if isinstance(plan["fail"], str) else "simulated failure"
            return f"RuntimeError: {message}"
        from ._sample_media import ensure_sample_media

        samples = await asyncio.to_thread(ensure_sample_media, self.sample_dir)
        for name in OUTPUT_FILES:
            shutil.copyfile(samples / name, folder / name)
        return None

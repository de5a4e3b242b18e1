"""The two ways a job gets rendered: real Manim in a subprocess, or a simulation.

A renderer's `render(job, folder, width, height)` fills `folder` with video.mp4, thumb.jpg and
captions.vtt and returns None, or returns the error a person should read.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Protocol

from .._files import ASSET_FILES
from ._movie_cache import MovieCache
from ._render_job import CACHE_FOLDER
from ._sandbox import JOB_MOUNT, bwrap_problem, kill_session, render_env, sandboxed
from ._store import StoredJob

OUTPUT_FILES = tuple(ASSET_FILES.values())
DEFAULT_RENDER_TIMEOUT = 600.0
DEFAULT_MEMORY_LIMIT = 4 * 1024**3
DEFAULT_SIMULATED_SECONDS = 0.3
#: Workers kept waiting with Manim imported (~100-150 MB each; see docs/server.md).
DEFAULT_WARM_WORKERS = 1
#: One output file may not grow past this (RLIMIT_FSIZE), and a render may start this many processes.
MAX_FILE_BYTES = 2 * 1024**3
RENDER_PROCESSES = 256


class Renderer(Protocol):
    async def start(self, work_dir: Path) -> None: ...
    async def stop(self) -> None: ...
    async def render(self, job: StoredJob, folder: Path, width: int, height: int) -> str | None: ...


class ManimRenderer:
    """Runs `_render_job` with this interpreter, sandboxed by bwrap where it can, with a timeout and limits.

    `sandbox`: None = use bwrap when it runs here, else render only `trusted_user`'s jobs (the
    first user: their own code) unsandboxed; True = require bwrap; False = never sandbox, render
    everyone's jobs (`--no-sandbox`). `hidden` lists what a render must never see (data dir, homes).
    """

    def __init__(self, *, timeout: float = DEFAULT_RENDER_TIMEOUT, memory_limit: int = DEFAULT_MEMORY_LIMIT,
                 sandbox: bool | None = None, trusted_user: str | None = None,
                 hidden: tuple[Path, ...] = (), cache: MovieCache | None = None, warm: int = 0) -> None:
        self.timeout = timeout
        self.warm = warm
        self._warming: list[asyncio.Future[asyncio.subprocess.Process]] = []
        self._folders: dict[int, Path] = {}  # a waiting worker's own folder, by pid
        self._work_dir = Path(tempfile.gettempdir())
        self.cache = cache
        self.memory_limit = memory_limit
        problem = bwrap_problem() if sandbox is not False else None
        if sandbox is True and problem:
            raise ValueError(f"cannot sandbox renders: {problem}; or start without requiring the sandbox.")
        self.sandboxed = sandbox is not False and problem is None
        self.unsandboxed_problem = "started with --no-sandbox" if sandbox is False else problem
        self.trusted_user = None if sandbox is False else trusted_user
        self.hidden = hidden

    def refusal(self, job: StoredJob) -> str | None:
        """Why this job may not render here (no sandbox, and not the trusted user's), else None."""
        if self.sandboxed or self.trusted_user is None or job.user_id == self.trusted_user:
            return None
        return ("this local server cannot sandbox renders, so it renders only its first user's scenes; "
                "its operator can install bubblewrap or start it with --no-sandbox.")

    def limits(self) -> list[str]:
        """`_render_job`'s arguments: memory, CPU seconds, file size and process count."""
        return [str(self.memory_limit), str(math.ceil(self.timeout) + 5), str(MAX_FILE_BYTES),
                str(_process_limit())]

    # warm workers ---------------------------------------------------------------------------------
    async def start(self, work_dir: Path) -> None:
        """Start `warm` workers (sandboxed only) that import Manim now and wait for a job."""
        self._work_dir = work_dir
        self._refill()

    async def stop(self) -> None:
        """End the waiting workers (each is a whole sandbox: killing it ends everything in it)."""
        warming, self._warming = self._warming, []
        for task in warming:
            try:
                process = await task
            except Exception:
                continue
            kill_session(process.pid)
            if process.stdin is not None:
                process.stdin.close()
            await process.wait()

    def _new_folder(self) -> Path:
        folder = Path(tempfile.mkdtemp(prefix="warm-", dir=self._work_dir)).resolve()
        (folder / "tmp").mkdir()
        return folder

    def _refill(self) -> None:
        """Start workers until `warm` wait; called once a render ended, so warming never slows a render."""
        while self.sandboxed and len(self._warming) < self.warm:
            self._warming.append(asyncio.ensure_future(self._spawn(self._new_folder())))

    async def _take_warm(self, folder: Path) -> asyncio.subprocess.Process | None:
        """A waiting worker (importing or ready), its folder renamed to the job's."""
        while self._warming:
            task = self._warming.pop(0)
            try:
                process = await task
            except Exception:  # it could not start: render cold
                return None
            assert process.stdout is not None
            try:  # its first byte: bwrap has mounted the folder, so renaming it is safe now
                await asyncio.wait_for(process.stdout.readexactly(1), self.timeout)
            except (asyncio.IncompleteReadError, asyncio.TimeoutError):
                kill_session(process.pid)
                await process.wait()
                shutil.rmtree(self._folders.pop(process.pid), ignore_errors=True)
                continue
            if process.returncode is None and process.stdin is not None:
                os.rmdir(folder)  # the job's empty folder gives way to the worker's (bwrap mounted that one)
                os.rename(self._folders.pop(process.pid), folder)
                return process
        return None

    # rendering ------------------------------------------------------------------------------------
    async def _spawn(self, folder: Path) -> asyncio.subprocess.Process:
        seen_as = JOB_MOUNT if self.sandboxed else str(folder)
        argv = [sys.executable, "-m", "kodisc_jupyter.server._render_job", *self.limits()]
        if self.sandboxed:
            argv = sandboxed(argv, folder, render_env(seen_as), hidden=[*self.hidden, folder.parent])
        with open(folder / "render.log", "wb") as log:
            process = await asyncio.create_subprocess_exec(
                *argv, cwd=folder, env=render_env(seen_as), stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=log, start_new_session=True)
        self._folders[process.pid] = folder
        return process

    async def render(self, job: StoredJob, folder: Path, width: int, height: int) -> str | None:
        refused = self.refusal(job)
        if refused:
            return refused
        process = await self._take_warm(folder)
        if process is None:
            (folder / "tmp").mkdir(exist_ok=True)
            process = await self._spawn(folder)
            self._folders.pop(process.pid, None)
        (folder / "scene.py").write_text(job.code, encoding="utf-8")
        spec = {"folder": JOB_MOUNT if self.sandboxed else str(folder), "class_name": job.class_name,
                "width": width, "height": height, "fps": job.fps, "cache": self.cache is not None}
        if self.cache is not None:
            self.cache.check_out(job, folder / CACHE_FOLDER)
        try:
            return await self._run(process, spec, folder)
        finally:
            if self.cache is not None:
                self.cache.check_in(job, folder / CACHE_FOLDER)
            self._refill()

    async def _run(self, process: asyncio.subprocess.Process, spec: dict, folder: Path) -> str | None:
        try:
            assert process.stdin is not None
            process.stdin.write(json.dumps(spec).encode() + b"\n")
            with contextlib.suppress(ConnectionError):  # it may already have died
                await process.stdin.drain()
            process.stdin.close()
            await asyncio.wait_for(process.wait(), self.timeout)
        except asyncio.TimeoutError:
            kill_session(process.pid)
            await process.wait()
            return timed_out(self.timeout)
        except BaseException:  # cancelled: the server is stopping
            kill_session(process.pid)
            raise
        if not self.sandboxed:  # bwrap's PID namespace already ended whatever the scene left running
            kill_session(process.pid)
        return _read_outcome(folder, process.returncode)


def _process_limit() -> int:
    """RLIMIT_NPROC counts all of the user's processes: leave room for the render above what runs now."""
    try:
        mine = sum(1 for entry in Path("/proc").iterdir() if entry.name.isdigit() and entry.stat().st_uid == os.getuid())
    except OSError:
        return 0
    return mine + RENDER_PROCESSES


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


def timed_out(timeout: float) -> str:
    return f"the render took longer than {timeout:g} s and was stopped; shorten the scene."


class SimulatedRenderer:
    """No Manim: waits `metadata.simulate.seconds` and fails if `metadata.simulate.fail`; writes tiny real files.

    Like a real render it is stopped after `timeout` seconds, so no `seconds` keeps a worker forever.
    """

    def __init__(self, sample_dir: Path, *, timeout: float = DEFAULT_RENDER_TIMEOUT) -> None:
        self.sample_dir = sample_dir
        self.timeout = timeout

    async def start(self, work_dir: Path) -> None:
        """Nothing to warm up."""

    async def stop(self) -> None:
        """Nothing to stop."""

    async def render(self, job: StoredJob, folder: Path, width: int, height: int) -> str | None:
        plan = job.metadata.get("simulate") if isinstance(job.metadata, dict) else None
        plan = plan if isinstance(plan, dict) else {}
        seconds = plan.get("seconds", DEFAULT_SIMULATED_SECONDS)
        ok = isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and math.isfinite(seconds)
        seconds = max(0.0, float(seconds)) if ok else DEFAULT_SIMULATED_SECONDS
        await asyncio.sleep(min(seconds, self.timeout))
        if seconds > self.timeout:
            return timed_out(self.timeout)
        if plan.get("fail"):
            message = plan["fail"] if isinstance(plan["fail"], str) else "simulated failure"
            return f"RuntimeError: {message}"
        from ._sample_media import ensure_sample_media

        samples = await asyncio.to_thread(ensure_sample_media, self.sample_dir)
        for name in OUTPUT_FILES:
            shutil.copyfile(samples / name, folder / name)
        return None

"""The two ways a job gets rendered: real Manim in a subprocess, or a simulation.

A renderer's `render(job, folder, width, height)` fills `folder` with video.mp4, thumb.jpg and
captions.vtt and returns None, or returns the error a person should read.
"""
from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Protocol

from .._files import ASSET_FILES
from ..contract._rules import is_number
from ._leftovers import folder_usage, read_capped, remove_tree
from ._movie_cache import MovieCache
from ._pricing import cost_for, reserve_for
from ._process import DEFAULT_RENDER_TIMEOUT, RenderProcess, WorkerSpec, new_folder
from ._render_job import CACHE_FOLDER, PROGRESS_FILE
from ._sandbox import JOB_MOUNT
from ._split import MISSING, Splitter
from ._store import StoredJob

OUTPUT_FILES = tuple(ASSET_FILES.values())
DEFAULT_SIMULATED_SECONDS = 0.3


#: Seconds between two looks at a running render's folder size (and at its timeout).
QUOTA_CHECK_SECONDS = 1.0
#: Files and folders one job may leave in its folder (Manim writes a few per animation).
MAX_JOB_FILES = 20_000
#: The most of result.json that is read: `{"ok": ...}` and an error, itself cut to a few KB by the store.
MAX_RESULT_BYTES = 64 * 1024


class Renderer(Protocol):
    timeout: float

    async def start(self, work_dir: Path) -> None: ...
    async def stop(self) -> None: ...
    async def render(self, job: StoredJob, folder: Path, width: int, height: int) -> str | None: ...
    def reserve(self, quality: str) -> int: ...  # credits taken on POST
    def cost(self, job: StoredJob, duration_ms: int) -> int: ...  # credits charged once it ended
    def helper_folders(self, job_id: str) -> list[Path]: ...
    def queued_elsewhere(self, job_id: str) -> bool: ...  # a running job that another service still has queued


class _ByWallTime:
    """The local price list (`_pricing`): what a render here costs is its quality's rate times its seconds."""

    def queued_elsewhere(self, job_id: str) -> bool:
        """A render here runs here."""
        return False

    def reserve(self, quality: str) -> int:
        return reserve_for(quality)

    def cost(self, job: StoredJob, duration_ms: int) -> int:
        return cost_for(job.quality, duration_ms)


class ManimRenderer(_ByWallTime):
    """Renders each job in a `RenderProcess` of `spec` (sandboxed by bwrap where it can), with a timeout and limits.

    `problem` says why renders are not sandboxed (None when they are). Unsandboxed, only
    `trusted_user`'s jobs render (the first user: their own code), unless `trusted_user` is None
    (`--no-sandbox`: everyone's). `adopt` is a worker started before this renderer (`prestart`):
    it becomes the first warm worker if its spec is this renderer's, and is ended otherwise.
    """

    def __init__(self, spec: WorkerSpec, *, problem: str | None = None, trusted_user: str | None = None,
                 cache: MovieCache | None = None, warm: int = 0, adopt: RenderProcess | None = None,
                 splitter: Splitter | None = None) -> None:
        self.spec, self.timeout, self.warm, self.cache = spec, spec.timeout, warm, cache
        #: splits a long scene across idle workers (needs the cache; its lender is the job queue)
        self.splitter = splitter
        self.sandboxed = spec.sandboxed
        self.unsandboxed_problem = problem
        self.trusted_user = trusted_user
        self._warming: list[RenderProcess] = []
        self._adopt = adopt
        self._work_dir = Path(tempfile.gettempdir())

    def refusal(self, job: StoredJob) -> str | None:
        """Why this job may not render here (no sandbox, and not the trusted user's), else None."""
        if self.sandboxed or self.trusted_user is None or job.user_id == self.trusted_user:
            return None
        return ("this local server cannot sandbox renders, so it renders only its first user's scenes; "
                "its operator can install bubblewrap or start it with --no-sandbox.")

    # warm workers ---------------------------------------------------------------------------------
    async def start(self, work_dir: Path) -> None:
        """Adopt the pre-started worker (the others warm once its render ends), else start `warm` workers
        (sandboxed only) that import Manim and wait."""
        self._work_dir = work_dir
        adopted, self._adopt = self._adopt, None
        if adopted is not None:
            if adopted.spec == self.spec and self.sandboxed and self.warm > 0:
                self._warming.append(adopted)
                # a one-shot command's render comes now: a second worker importing Manim beside it would
                # share its two cores (+0.2-0.4 s measured); the rest warm once that render ends
                return
            await _drop(adopted)
        self._refill()

    async def stop(self) -> None:
        """End the waiting workers (each is a whole sandbox: killing it ends everything in it)."""
        warming, self._warming = self._warming, []
        for process in warming:
            await process.end()

    def _refill(self) -> None:
        """Start workers until `warm` wait; called once a render ended, so warming never slows a render."""
        while self.sandboxed and len(self._warming) < self.warm:
            self._warming.append(RenderProcess(self.spec, new_folder(self._work_dir)))

    async def _take_warm(self, folder: Path) -> RenderProcess | None:
        """A waiting worker (importing or ready), its folder renamed to the job's."""
        while self._warming:
            process = self._warming.pop(0)
            # its first byte: bwrap has mounted the folder, so renaming it is safe now
            if not await process.started(self.timeout) or process.returncode is not None:
                await _drop(process)
                continue
            os.rmdir(folder)  # the job's empty folder gives way to the worker's (bwrap mounted that one)
            os.rename(process.folder, folder)
            process.folder = folder
            return process
        return None

    # rendering ------------------------------------------------------------------------------------
    def helper_folders(self, job_id: str) -> list[Path]:
        """The folders of a split render's helpers (each reports its own progress)."""
        return self.splitter.helper_folders(job_id) if self.splitter is not None else []

    async def render(self, job: StoredJob, folder: Path, width: int, height: int) -> str | None:
        refused = self.refusal(job)
        if refused:
            return refused
        process = await self._take_warm(folder) or RenderProcess(self.spec, folder)
        (folder / "scene.py").write_text(job.code, encoding="utf-8")
        order = {"folder": JOB_MOUNT if self.sandboxed else str(folder), "class_name": job.class_name,
                "width": width, "height": height, "fps": job.fps, "cache": self.cache is not None,
                "files": str(self.spec.scene_files) if self.spec.scene_files else None}
        helpers = 0
        if self.cache is not None:
            await asyncio.to_thread(self.cache.check_out, job, folder / CACHE_FOLDER)
            if self.splitter is not None:
                helpers = self.splitter.borrow(job.job_id, self.cache.entry(job), job.code)
        error, keep_cache = None, True
        try:
            if helpers:
                error = await self._split(job, process, order, helpers)
            else:
                error = await self._run(process, order, folder, self.timeout)
            keep_cache = error is None or not error.startswith(OVER_QUOTA_START)
            if error is None and self.splitter is not None and self.cache is not None:
                self.splitter.remember(self.cache.entry(job), await asyncio.to_thread(_outcome, folder), job.fps)
            return error
        finally:
            try:
                if helpers:  # what the helpers did not give back as they ended
                    assert self.splitter is not None
                    self.splitter.give_back(job.job_id)
                if self.cache is not None and keep_cache:  # the scene could write there: read warily, in a thread
                    await asyncio.to_thread(self.cache.check_in, job, folder / CACHE_FOLDER)
            finally:
                self._refill()

    async def _split(self, job: StoredJob, final: RenderProcess, order: dict, count: int) -> str | None:
        """Render on `final` and `count` helpers (see `_split`), each folder under the job's quota; once more on
        one worker should partial movies be missing. The timeout covers all of it."""
        assert self.splitter is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        folders = [new_folder(self._work_dir, f"{job.job_id}-helper-") for _ in range(count)]
        helpers: list[RenderProcess] = []
        try:
            for helper_folder in folders:
                helpers.append(await self._take_warm(helper_folder) or RenderProcess(self.spec, helper_folder))
                (helper_folder / "scene.py").write_text(job.code, encoding="utf-8")

            def helper_order(helper_folder: Path) -> dict:
                return {**order, "folder": JOB_MOUNT if self.sandboxed else str(helper_folder), "split": "helper"}

            run = asyncio.ensure_future(self.splitter.run(job.job_id, final, order, helpers, helper_order,
                                                          _split_outcome))
            watch = asyncio.ensure_future(self._watch([final.folder, *folders]))
            try:
                await asyncio.wait({run, watch}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (run, watch):
                    task.cancel()
                await asyncio.gather(run, watch, return_exceptions=True)
            if watch.done() and not watch.cancelled():
                return watch.result()  # over quota
            if not run.done() or run.cancelled():
                return timed_out(self.timeout)
            error = run.result()
            if not self.sandboxed:
                final.kill()
        finally:
            for process in (final, *helpers):
                if process.returncode is None:
                    await process.end()
            for helper_folder in folders:
                await asyncio.to_thread(remove_tree, helper_folder)
        if error != MISSING:
            return error
        for name in ("result.json", PROGRESS_FILE):
            (final.folder / name).unlink(missing_ok=True)
        return await self._run(RenderProcess(self.spec, final.folder), {**order, "walk": True}, final.folder,
                               max(0.0, deadline - loop.time()))

    async def _watch(self, folders: list[Path]) -> str:
        """Until one of a split's folders is over the job's quota: why (cancelled when the split ends)."""
        while True:
            await asyncio.sleep(QUOTA_CHECK_SECONDS)
            for folder in folders:
                over = await asyncio.to_thread(over_quota, folder, self.spec.job_bytes)
                if over:
                    return over

    async def _run(self, process: RenderProcess, order: dict, folder: Path, timeout: float) -> str | None:
        """Send the order and wait for the worker's exit, ending it after `timeout` s or once its folder is over quota."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        exited = asyncio.ensure_future(process.wait())
        try:
            process.send(order)
            while True:
                await asyncio.wait({exited}, timeout=max(0.0, min(QUOTA_CHECK_SECONDS, deadline - loop.time())))
                over = await asyncio.to_thread(over_quota, folder, self.spec.job_bytes)
                if over or exited.done():
                    break
                if loop.time() >= deadline:
                    await process.end()
                    return timed_out(self.timeout)
        except BaseException:  # cancelled: the server is stopping
            process.kill()
            raise
        finally:
            if not exited.done():
                exited.cancel()
        if over:
            await process.end()
            return over
        if not self.sandboxed:  # bwrap's PID namespace already ended whatever the scene left running
            process.kill()
        error = await asyncio.to_thread(_read_outcome, folder, process.returncode)
        if error and process.ran_out_of_memory:  # the kernel says so: no "may have"
            return (f"the render ran out of its {self.spec.memory_limit / 1024**3:g} GiB of memory (all its processes "
                    "and its /tmp together) and was stopped; simplify the scene or render at a lower quality.")
        return error


async def _drop(process: RenderProcess) -> None:
    """End a worker that will render nothing, and remove its folder."""
    await process.end()
    await asyncio.to_thread(remove_tree, process.folder)


def _outcome(folder: Path) -> dict | None:
    """The worker's result.json, read like anything a scene wrote (a dict or None, never trusted further)."""
    data = read_capped(folder / "result.json", MAX_RESULT_BYTES)
    try:
        outcome = json.loads(data) if data is not None else None
    except ValueError:
        return None
    return outcome if isinstance(outcome, dict) else None


def _read_outcome(folder: Path, returncode: int | None, outputs: tuple[str, ...] = OUTPUT_FILES) -> str | None:
    """The render's error from its result.json (None: it rendered; `MISSING`: a split's partial movies were not all there)."""
    outcome = _outcome(folder)
    if outcome is None:
        if returncode is not None and returncode < 0:
            reason = f"was killed by signal {-returncode}"
            if -returncode == signal.SIGKILL:
                reason += " (it may have run out of memory)"
        else:
            reason = f"exited with code {returncode} without a result"
        return f"the render process {reason}; simplify the scene and render again."
    if outcome.get("ok") is True:
        missing = [name for name in outputs if not (folder / name).is_file()]
        return f"the render produced no {', '.join(missing)}." if missing else None
    if outcome.get("missing") is True:
        return MISSING
    error = outcome.get("error")
    return error if isinstance(error, str) and error else "the render failed for an unknown reason."


OVER_QUOTA_START = "the render wrote more than"


def over_quota(folder: Path, job_bytes: int) -> str | None:
    """Why `folder` is past its job's quota (bytes on disk, or files), else None; a scene's tree of any shape."""
    used, files = folder_usage(folder)
    if used > job_bytes:
        return (f"{OVER_QUOTA_START} {job_bytes // 1024**2} MB, this server's limit per job (--max-job-mb); "
                "it was stopped and its files removed. Render at a lower quality or shorten the scene.")
    if files > MAX_JOB_FILES:
        return (f"{OVER_QUOTA_START} {MAX_JOB_FILES} files, this server's limit per job; it was stopped and its "
                "files removed. Write files only through Manim.")
    return None


def _split_outcome(folder: Path, returncode: int | None, helper: bool) -> str | None:
    """A split render's worker's outcome: a helper leaves no outputs, only partial movies."""
    return _read_outcome(folder, returncode, () if helper else OUTPUT_FILES)


def timed_out(timeout: float) -> str:
    return f"the render took longer than {timeout:g} s and was stopped; shorten the scene."


class SimulatedRenderer(_ByWallTime):
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

    def helper_folders(self, job_id: str) -> list[Path]:
        """A simulated render never splits."""
        return []

    async def render(self, job: StoredJob, folder: Path, width: int, height: int) -> str | None:
        plan = job.metadata.get("simulate") if isinstance(job.metadata, dict) else None
        plan = plan if isinstance(plan, dict) else {}
        seconds = plan.get("seconds", DEFAULT_SIMULATED_SECONDS)
        ok = is_number(seconds) and math.isfinite(seconds)
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

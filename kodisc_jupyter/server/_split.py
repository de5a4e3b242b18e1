"""One scene rendered by several workers at once: a final worker and helpers, each in its own sandbox.

Every worker runs the whole scene from the start, with faithful skipping (see `_faithful`): an
animation it does not render is stepped through frame by frame without drawing, so each worker
reaches each animation in the state the bare CLI would. Before rendering an animation a worker
claims it here; the first to ask renders it, the others walk past. The final worker (in the job's
own folder) also hashes what it walked past. When its walk is over it says so: helpers still
rendering finish the animation in hand and end, idle ones are ended, their partial movies move into
the final worker's cache folder, and the final worker combines them, as Manim combines a cached
render. Claims go to whoever is ahead, so a helper that starts late (cold) takes less work.

Correct by construction: the final worker combines only partial movies named by the hashes of its
own walk. Should a helper have reached another state (time-dependent or unseeded random code), the
name differs, the final worker reports it missing, and the scene renders again on one worker with
every partial movie cached (`MISSING`): slower, never another video.

Whether to split: only with a movie cache, only on workers no queued job can use (the queue's
`spare()`; a helper stops after the animation in hand as soon as a queued job could use its worker,
and gives it back then), and only for scenes with enough animations and frames, known from the last render of
the same scene class (its cache entry) or, for a first render, estimated from the `play`/`wait`
calls in the code.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import re
import stat
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ._process import RenderProcess
from ._render_job import CACHE_FOLDER

#: The final worker's outcome said partial movies were missing: render once more on one worker.
MISSING = "missing"
_CALLS = re.compile(r"\.\s*(?:play|wait)\s*\(")
_CLAIM = re.compile(r"c (\d{1,6})")
FORGED = ("the scene wrote on the render's own pipe to the server (not through Manim); remove that code and "
          "render again.")
#: More animations than a scene can mean: a claim past it is the scene writing on the pipe (the worker ends).
MAX_ANIMATIONS = 100_000
_PARTIAL = re.compile(r"[0-9a-f]{64}\.(?:mp4|mov|webm)")
#: Scenes remembered (their animations and frames) for the next decision.
_REMEMBERED = 4096


class Lender(Protocol):
    """The job queue's side (see `_fair_queue`): workers idle that no queued job can use."""

    def borrow(self, count: int) -> int: ...
    def give_back(self, count: int) -> None: ...
    def wanted(self) -> int: ...


@dataclass(frozen=True)
class SplitRule:
    """When a render splits: at least `min_animations` (play and wait calls) and `min_frames`, and at
    least `per_worker` animations for each worker it uses."""

    min_animations: int = 8
    min_frames: int = 240
    per_worker: int = 2


class Splitter:
    """Decides whether a job splits, and runs the split; remembers each scene's size for next time."""

    def __init__(self, rule: SplitRule, lender: Lender | None = None) -> None:
        self.rule, self.lender = rule, lender
        self._lent: dict[str, int] = {}  # job id -> workers borrowed and not given back yet
        self._sizes: OrderedDict[Path, tuple[int, int]] = OrderedDict()  # cache entry -> (animations, frames)
        self._helpers: dict[str, list[Path]] = {}  # job id -> its helpers' folders (their progress)
        #: split renders run, and partial movies their helpers rendered (for logs and tests)
        self.runs = self.helped = 0

    def borrow(self, job_id: str, entry: Path, code: str) -> int:
        """Borrow the spare workers this render would use as helpers: how many (0: render on one worker)."""
        wanted = self.helpers_wanted(entry, code)
        lent = self.lender.borrow(wanted) if wanted and self.lender is not None else 0
        if lent:
            self._lent[job_id] = lent
        return lent

    def give_back(self, job_id: str, count: int | None = None) -> None:
        """Return `count` of the job's borrowed workers (None: all it still holds)."""
        held = self._lent.get(job_id, 0)
        count = held if count is None else min(count, held)
        if count and self.lender is not None:
            self.lender.give_back(count)
        if held - count:
            self._lent[job_id] = held - count
        else:
            self._lent.pop(job_id, None)

    def helpers_wanted(self, entry: Path, code: str) -> int:
        """How many helpers this render would use (0: render on one worker)."""
        if self.lender is None:
            return 0
        animations, frames = self._sizes.get(entry, (len(_CALLS.findall(code)), None))
        if animations < self.rule.min_animations or (frames is not None and frames < self.rule.min_frames):
            return 0
        return max(0, animations // self.rule.per_worker - 1)

    def remember(self, entry: Path, outcome: dict | None, fps: int) -> None:
        """Keep the size a render reported (`animations`, `seconds`) for the next render of its scene."""
        animations, seconds = (outcome or {}).get("animations"), (outcome or {}).get("seconds")
        if type(animations) is not int or not isinstance(seconds, (int, float)):
            return
        self._sizes[entry] = (animations, round(seconds * fps))
        self._sizes.move_to_end(entry)
        while len(self._sizes) > _REMEMBERED:
            self._sizes.popitem(last=False)

    def helper_folders(self, job_id: str) -> list[Path]:
        return list(self._helpers.get(job_id, ()))

    async def run(self, job_id: str, final: RenderProcess, order: dict,
                  helpers: list[RenderProcess], helper_order: Callable[[Path], dict],
                  error_of: Callable[[Path, int | None, bool], str | None]) -> str | None:
        """Render with `final` (in the job's folder) and `helpers`: None, an error, or `MISSING`.

        `error_of(folder, returncode, helper)` reads a worker's outcome. The caller applies the
        timeout (cancelling this ends every worker) and removes the helpers' folders.
        """
        self.runs += 1
        self._helpers[job_id] = [helper.folder for helper in helpers]
        for helper in helpers:
            _link_cache(final.folder / CACHE_FOLDER, helper.folder / CACHE_FOLDER)
        run = _Run(final, helpers, wanted=self.lender.wanted if self.lender is not None else lambda: 0,
                   release=lambda: self.give_back(job_id, 1))
        final.send({**order, "split": "final"}, talk=True)
        for helper in helpers:
            helper.send(helper_order(helper.folder), talk=True)
        try:
            return await run.serve(error_of)
        finally:
            self.helped += run.moved
            run.end_all()
            for helper in helpers:
                await helper.wait()
            self._helpers.pop(job_id, None)


class _Run:
    """The arbiter of one split render: who renders which animation, and when the final worker combines."""

    def __init__(self, final: RenderProcess, helpers: list[RenderProcess], *, wanted: Callable[[], int],
                 release: Callable[[], None]) -> None:
        """`wanted()`: workers queued jobs could start on now (helpers then stop after the animation in hand);
        `release()`: give one borrowed worker back (as each helper ends)."""
        self.final, self.helpers = final, helpers
        self.wanted, self.release = wanted, release
        self.claimed: set[int] = set()
        self.holding: set[RenderProcess] = set()  # helpers that claimed at least one animation
        self.closing = False
        self.moved = 0  # partial movies the helpers rendered
        self.error: str | None = None
        self.failed = asyncio.Event()

    async def serve(self, error_of: Callable[[Path, int | None, bool], str | None]) -> str | None:
        helper_tasks = [asyncio.create_task(self._serve_helper(helper, error_of)) for helper in self.helpers]
        final_task = asyncio.create_task(self._serve_final(helper_tasks))
        failed = asyncio.create_task(self.failed.wait())
        try:
            await asyncio.wait([final_task, failed], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (*helper_tasks, final_task, failed):
                task.cancel()
            await asyncio.gather(*helper_tasks, final_task, failed, return_exceptions=True)
        if self.error is not None:
            return self.error
        returncode = await self.final.wait()
        error = error_of(self.final.folder, returncode, False)
        return MISSING if error == MISSING else error

    def _claim(self, process: RenderProcess, line: str) -> bool:
        """Answer a claim; False for a line that is not one (the scene wrote on the pipe: end that worker)."""
        match = _CLAIM.fullmatch(line)
        if match is None or int(match.group(1)) >= MAX_ANIMATIONS:
            return False
        index = int(match.group(1))
        granted = index not in self.claimed
        self.claimed.add(index)
        if granted and process is not self.final:
            self.holding.add(process)
        process.answer("1" if granted else "0")
        return True

    async def _serve_helper(self, helper: RenderProcess,
                            error_of: Callable[[Path, int | None, bool], str | None]) -> None:
        try:
            while (line := await helper.ask()) is not None:
                if self.closing or self.wanted() > 0:
                    # the final worker walked everything, or another job waits for this worker: end after the
                    # animation in hand (what it rendered stays; the final worker renders what it leaves)
                    helper.answer("e")
                elif not self._claim(helper, line):
                    self._fail(FORGED)
                    helper.kill()
                    break
            returncode = await helper.wait()
        finally:
            self.release()
        if self.closing and helper not in self.holding:
            return  # ended idle: nothing of it is needed
        error = error_of(helper.folder, returncode, True)
        if error is not None:
            self._fail(error)

    async def _serve_final(self, helper_tasks: list[asyncio.Task]) -> None:
        while (line := await self.final.ask()) is not None:
            if line == "d":
                self.closing = True
                for helper in self.helpers:
                    if helper not in self.holding and helper.returncode is None:
                        helper.kill()
                await asyncio.gather(*helper_tasks)
                if self.error is not None:
                    return
                for helper in self.helpers:
                    if helper in self.holding:
                        self.moved += await asyncio.to_thread(_move_partials, helper.folder / CACHE_FOLDER,
                                                              self.final.folder / CACHE_FOLDER)
                self.final.answer("g")
            elif not self._claim(self.final, line):
                self._fail(FORGED)
                self.final.kill()
                return

    def _fail(self, error: str) -> None:
        if self.error is None:
            self.error = error
            self.failed.set()

    def end_all(self) -> None:
        for process in (self.final, *self.helpers):
            if process.returncode is None and (self.error is not None or process is not self.final):
                process.kill()


def _link_cache(source: Path, target: Path) -> None:
    """A helper's cache folder: the job's cached partial movies, hard-linked (the same user's files)."""
    target.mkdir(exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        for path in source.iterdir():
            if _PARTIAL.fullmatch(path.name) and stat.S_ISREG(path.lstat().st_mode):
                with contextlib.suppress(OSError):
                    os.link(path, target / path.name)


def _move_partials(source: Path, target: Path) -> int:
    """A helper's new partial movies into the final worker's cache (plain files named as Manim names them): how many."""
    moved = 0
    with contextlib.suppress(FileNotFoundError):
        for path in source.iterdir():
            if (_PARTIAL.fullmatch(path.name) and stat.S_ISREG(path.lstat().st_mode)
                    and not (target / path.name).exists()):
                os.replace(path, target / path.name)
                moved += 1
    return moved


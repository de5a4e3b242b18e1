"""The job lifecycle: `queued → running → completed | failed`, `workers` renders at once, shared fairly.

Jobs are taken from a `FairQueue`: in turn between users, at most its `per_user` renders of one
user at once. Each job renders in its own temporary folder outside the data dir; on success the
three files move to `<data_dir>/jobs/<jobId>/`, and only if each is a regular file of its own (a
scene's link to anything else is refused). Whatever else the scene left is removed, whatever its
shape (see `_leftovers`). The terminal transition settles credits (see `_pricing`) and hands the
job to the webhook sender. A job still queued or running when a server starts (its own server
stopped or crashed) is failed with `STOPPED_ERROR` and its reserve refunded; jobs of a live
sibling server sharing the data dir are left alone (see `_instances`).
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import stat
import tempfile
import time
from pathlib import Path

from .._logging import get_logger
from ..contract._models import RenderProgress
from ..contract._rules import QUALITIES
from ._delivery import WebhookSender
from ._fair_queue import FairQueue
from ._instances import InstanceLock, live_instances
from ._leftovers import read_capped, remove_tree
from ._pricing import charged_failure
from ._process import PRESTARTED_PREFIX, discard
from ._render_job import PROGRESS_FILE
from ._renderers import OUTPUT_FILES, Renderer
from ._store import Store, StoredJob
from ._views import job_body

logger = get_logger("kodisc_jupyter.server")  # with the redaction filter, like every package logger
STOPPED_ERROR = "the local server stopped while this job was queued or running; render again."
#: Seconds a pre-started worker's folder is left alone by other servers' clean-up (it is adopted within a second).
PRESTARTED_GRACE = 60.0
UNCOVERED_ERROR = ("not enough credits to cover this render's cost ({cost} credits); the reserve was refunded. "
                   "Add credits or wait for the monthly free allowance.")


def resolution(quality: str, aspect_ratio: str) -> tuple[int, int]:
    width, height, _ = QUALITIES[quality]
    return (height, width) if aspect_ratio == "9:16" else (width, height)


#: The most of progress.json that is read (it holds two numbers).
MAX_PROGRESS_BYTES = 256


class JobRunner:
    def __init__(self, store: Store, renderer: Renderer, *, files_dir: Path, work_dir: Path, workers: int,
                 sender: WebhookSender, public_url: str, instances_dir: Path, per_user: int | None = None,
                 first_user: str | None = None) -> None:
        self.store, self.renderer, self.sender = store, renderer, sender
        self.files_dir, self.workers, self.public_url = files_dir, workers, public_url
        self.instance = InstanceLock(instances_dir)
        self.instances_dir = instances_dir
        self.work_root, self.work_dir = work_dir, work_dir / self.instance.id
        #: who renders next, and every worker's accounting (a split render asks it for spare workers)
        self.queue = FairQueue(workers, per_user, first_user=first_user)
        self._tasks: list[asyncio.Task] = []
        self._folders: dict[str, Path] = {}  # running jobs' render folders, for their progress
        self._progress: dict[str, dict[Path, RenderProgress]] = {}  # running jobs: each worker's last progress
        #: what start() cleaned after stopped servers, one line for whoever starts the server to show
        self.cleaned: str | None = None

    async def start(self) -> None:
        """Start the warm workers (first: they take longest), fail what stopped servers left unfinished and
        remove their folders, then start taking jobs. Store and disk work run in a thread, off the loop."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        await self.renderer.start(self.work_dir)
        alive = await asyncio.to_thread(live_instances, self.instances_dir)
        orphans = await asyncio.to_thread(self.store.orphaned_job_ids, alive)
        for job_id in orphans:
            try:
                await self._notify(await asyncio.to_thread(self.store.finish, job_id, error=STOPPED_ERROR, cost=0,
                                                           duration_ms=0, uncovered_error=UNCOVERED_ERROR))
            except Exception:  # one bad row or webhook must not keep the server from starting
                logger.exception("could not fail the stopped job %s", job_id)
        removed, kept = await asyncio.to_thread(self._remove_stale_folders, alive)
        if orphans or removed or kept:
            self.cleaned = (f"Cleaned up after a stopped server: {len(orphans)} unfinished job(s) failed and refunded, "
                            f"{removed} render folder(s) removed" + (f", {kept} could not be removed (see the log)"
                                                                     if kept else "") + ".")
            logger.info("%s", self.cleaned)
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]

    def _remove_stale_folders(self, alive: set[str]) -> tuple[int, int]:
        """Remove render folders of servers that are gone: (how many went, how many would not)."""
        removed = kept = 0
        try:
            folders = list(self.work_root.iterdir())
        except OSError:
            return 0, 0
        for folder in folders:
            if folder.name not in alive and not _young_prestarted(folder):
                if remove_tree(folder):
                    removed += 1
                else:
                    kept += 1
        return removed, kept

    async def stop(self) -> None:
        """Stop the workers (killing renders in progress); their jobs are failed on the next start."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await self.renderer.stop()
        finally:  # whatever went wrong ending the workers, the folders go and the lock is let go
            try:
                await asyncio.to_thread(discard, self.work_dir)  # no empty folders left in the temp dir
            finally:
                self.instance.release()

    def submit(self, job: StoredJob) -> None:
        """Queue a job the store has just created (in its user's line)."""
        self.queue.put(job.job_id, job.user_id)

    async def _work(self) -> None:
        while True:
            job_id, user_id = await self.queue.take()
            try:
                job = await asyncio.to_thread(self.store.mark_running, job_id)
                if job is not None and job.status == "running":
                    await self._run(job)
            except Exception:  # keep the worker alive; the job is failed on the next start
                logger.exception("job %s could not be processed", job_id)
            finally:
                self.queue.done(user_id)

    async def _run(self, job: StoredJob) -> None:
        started = time.monotonic()
        ours = False  # a failure on our side (a bug, a full disk) is never charged
        folder = Path(tempfile.mkdtemp(prefix=f"{job.job_id}-", dir=self.work_dir)).resolve()
        self._folders[job.job_id] = folder
        try:
            error = await self.renderer.render(job, folder, *resolution(job.quality, job.aspect_ratio))
            if error is None:
                error = await asyncio.to_thread(_keep_outputs, folder, self.files_dir / job.job_id)
        except Exception as exc:  # a bug or a full disk on our side must still end the job
            logger.exception("rendering job %s failed", job.job_id)
            error, ours = f"the local server could not render this job ({type(exc).__name__}); render again.", True
        finally:
            self._folders.pop(job.job_id, None)
            self._progress.pop(job.job_id, None)
        duration_ms = int((time.monotonic() - started) * 1000)
        charge = not ours and charged_failure(duration_ms, self.renderer.timeout)
        try:
            await asyncio.to_thread(remove_tree, folder)  # never raises; the job is finished below whatever it left
        finally:
            final = await asyncio.to_thread(self.store.finish, job.job_id, error=error,
                                            cost=self.renderer.cost(job, duration_ms), duration_ms=duration_ms,
                                            uncovered_error=UNCOVERED_ERROR, charge_failure=charge)
        if final is None:  # deleted under us: nothing to tell
            return
        if final.status == "failed":
            await asyncio.to_thread(remove_tree, self.files_dir / job.job_id)
        await self._notify(final)

    def shown(self, job: StoredJob) -> StoredJob:
        """The job as its owner sees it: a running job another service still has queued (a gateway's) is
        queued, so the states mirror Kodisc's."""
        if job.status == "running" and self.renderer.queued_elsewhere(job.job_id):
            return dataclasses.replace(job, status="queued")
        return job

    async def progress(self, job_id: str) -> RenderProgress | None:
        """What the running render of `job_id` reported last, added up over its workers (a split render has
        several) and never less than before (the scene can write those files: read warily, in a thread)."""
        folder = self._folders.get(job_id)
        if folder is None:
            return None
        seen = self._progress.setdefault(job_id, {})
        for worker_folder in (folder, *self.renderer.helper_folders(job_id)):
            data = await asyncio.to_thread(read_capped, worker_folder / PROGRESS_FILE, MAX_PROGRESS_BYTES)
            try:
                reported = RenderProgress.from_dict(json.loads(data)) if data else None
            except ValueError:  # not JSON (UnicodeDecodeError included)
                reported = None
            last = seen.get(worker_folder)
            if reported is not None and (last is None or reported.animations >= last.animations):
                seen[worker_folder] = reported
        if not seen:
            return None
        return RenderProgress(animations=sum(p.animations for p in seen.values()),
                              seconds=round(sum(p.seconds for p in seen.values()), 3))

    async def _notify(self, job: StoredJob | None) -> None:
        if job is None or not job.webhook_url:
            return
        key = await asyncio.to_thread(self.store.key_by_id, job.key_id)
        self.sender.deliver(job.webhook_url, key.webhook_secret, job.status, job_body(job, self.public_url),
                            job.job_id)


def _keep_outputs(folder: Path, target: Path) -> str | None:
    """Move the three outputs to `target`, refusing links: a scene may not publish a file it did not write."""
    for name in OUTPUT_FILES:
        info = (folder / name).lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            return f"the render's {name} is not a regular file the scene wrote; write outputs only through Manim."
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in OUTPUT_FILES:
        shutil.move(folder / name, target / name)  # a rename, or a copy across file systems
    return None


def _young_prestarted(folder: Path) -> bool:
    """A worker `prestart` started for a server about to start (maybe not this one): not ours to remove yet."""
    try:
        return folder.name.startswith(PRESTARTED_PREFIX) and time.time() - folder.stat().st_mtime < PRESTARTED_GRACE
    except OSError:
        return False

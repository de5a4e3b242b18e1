"""The one render flow behind `%%kodisc`, `kodisc_jupyter.render()` and `kodisc render`.

    prepare (preflight, cache key, estimate, cache lookup) -> POST -> submitted (history row)
      -> wait (update per poll) -> fetch (assets) -> finish (history, observers)

`RenderFlow` holds every step that does not touch the network; the runners below (`run`, `submit`,
`wait`, `resume`, and `run_async`, `wait_async` for the `--no-wait` worker) call them in that order and
are the only code that does, so they differ only in how they call the client. Each state change is
reported to the flow's observers (the status bar, the CLI's progress line) and to every
`subscribe()`r of this process (the jobs panel refreshes on it).
"""
from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._logging import get_logger
from ..contract._errors import PreflightError, ValidationError
from ..contract._rules import COMPLETED, DEFAULT_ASPECT_RATIO, DEFAULT_QUALITY, build_render_body
from . import session
from .assets import afetch_assets, fetch_assets
from .history import cache_key
from .local_needs import local_problems
from .preflight import LineMap, NotebookCode, join_prelude, preflight

if TYPE_CHECKING:
    from ..client import AsyncKodisc, Job, Kodisc
    from .backend import Backend, Hints
    from .history import History, JobRecord

__all__ = ["PreflightError", "RenderRequest", "Progress", "Outcome", "RenderFlow", "run", "wait", "run_async", "wait_async",
           "submit", "resume_flow", "resume", "subscribe", "history"]

logger = get_logger("kodisc_jupyter.pipeline")

Observer = Callable[["Progress"], None]
Files = tuple[Path | None, Path | None, Path | None]  # video, thumbnail, captions


def subscribe(callback: Observer) -> Callable[[], None]:
    """Call `callback(progress)` on every state change of any job of this process; returns the unsubscribe."""
    return session.current().subscribe(callback)


def history() -> History:
    """The session's history (one object: it keeps one SQLite connection per thread)."""
    return session.current().history()


@dataclass(frozen=True)
class RenderRequest:
    """What to render; `prelude` (the kernel's `%%kodisc_prelude`), then `notebook` (the notebook's
    definitions the cell uses), are sent in front of `code`."""

    code: str
    class_name: str | None = None
    quality: str = DEFAULT_QUALITY
    aspect_ratio: str = DEFAULT_ASPECT_RATIO
    fps: int | None = None
    metadata: Any = None
    webhook_url: Any = None  # None: leave the field out (the key's default webhook applies)
    force: bool = False
    timeout: float | None = None
    prelude: str = ""
    unit: str = "cell"  # what messages call `code`: a notebook's "cell", `kodisc render`'s "file"
    notebook: NotebookCode | None = None

    @property
    def full_code(self) -> str:
        """The code sent (and the cache key's): prelude, the notebook's definitions, the cell."""
        return join_prelude(self.prelude, self.code, self.notebook)

    def lines(self) -> LineMap:
        """Where each line of `full_code` was written: a render error's line numbers are mapped with it."""
        return LineMap(self.prelude, self.notebook, self.unit)


@dataclass(frozen=True)
class Progress:
    """One observed state: "submitting", then the job's own status (queued, running, completed, failed)."""

    state: str
    class_name: str
    backend: Backend
    job: Job | None = None
    started: float = 0.0  # time.monotonic() when the flow started
    expected_seconds: float | None = None
    #: How long the last render of the same class (and quality, backend) took: the status bar's ETA.
    previous_seconds: float | None = None

    @property
    def job_id(self) -> str | None:
        return self.job.job_id if self.job is not None else None


@dataclass(frozen=True)
class Outcome:
    """A finished render: the job, its local files, and whether it came from the cache."""

    job: Job
    backend: Backend
    class_name: str
    quality: str | None
    aspect_ratio: str | None
    video: Path | None = None
    thumbnail: Path | None = None
    captions: Path | None = None
    cached: bool = False
    warnings: tuple[str, ...] = ()
    from_notebook: tuple[str, ...] = ()  # the notebook's definitions sent with the cell, as the summary names them


@dataclass
class RenderFlow:
    """The network-free steps of one render, in the order the runners below call them:

        check -> prepare -> (submitting -> submitted) -> update ... -> fetch -> finish

    `prepare()` computes what the later steps use (the cache key, the estimates), so nothing else
    calls the steps. `request` is None for a job picked up by id that the history does not know
    (submitted elsewhere): there is nothing to send, only a job to follow.
    """

    request: RenderRequest | None
    backend: Backend
    observers: list[Observer] = field(default_factory=list)
    history: History = field(default_factory=lambda: session.current().history())
    class_name: str = ""
    warnings: tuple[str, ...] = ()
    job: Job | None = None
    timeout: float | None = None  # how long `wait` waits (None: the request's, or no limit)
    started: float = field(default_factory=time.monotonic)
    followed_id: str | None = None  # the job a flow without a request follows, before its first state is seen
    _checked: bool = False
    _files: tuple[str, ...] = ()  # read beside the notebook (see Preflight.files)
    _cache_key: str | None = None
    _expected: float | None = None
    _previous: float | None = None

    def __post_init__(self) -> None:
        if self.timeout is None and self.request is not None:
            self.timeout = self.request.timeout

    # -- before anything is sent -----------------------------------------------------------------

    def check(self) -> None:
        """Pre-flight (once): raises `PreflightError` or the client's `ValidationError` (nothing is sent, and
        no "submitting" state is shown for what the client would refuse); keeps warnings and the class name."""
        if self._checked:
            return
        request = self._request()
        local = self.backend.name == "local"
        report = preflight(request.code, request.class_name, prelude=request.prelude, unit=request.unit,
                           notebook=request.notebook, beside=self.backend.scene_files if local else None)
        if report.errors:
            raise PreflightError(report.errors)
        if local:  # TeX and Kodisc's plugin: Kodisc has them, this machine may not
            problems = local_problems(report.source)
            if problems:
                raise PreflightError(problems)
        self.class_name = report.class_name or ""
        build_render_body(**self.render_kwargs())
        unseen = local and report.warnings and self.backend.scene_files_problem  # why no file beside is seen
        self.warnings = (*report.warnings, *([f"files beside the notebook: {unseen}"] if unseen else []))
        self._files = report.files
        self._checked = True

    def prepare(self) -> Outcome | None:
        """Check, then key the request and estimate its time from the history; returns the completed
        result of an identical earlier request whose media can still be played (unless `force`)."""
        self.check()
        request = self._request()
        self._cache_key = cache_key(code=request.full_code, class_name=self.class_name, quality=request.quality,
                                    aspect_ratio=request.aspect_ratio, fps=request.fps, backend=self.backend.name,
                                    base_url=_cache_base_url(self.backend),
                                    files=_digests(self.backend.scene_files, self._files))
        self._estimate(request.quality)
        if request.force:
            return None
        record = self.history.find_cached(self._cache_key)
        return self.recorded_outcome(record, cached=True) if record is not None else None

    @property
    def cache_key(self) -> str | None:
        """The request's identity once `prepare()` ran (identical requests in one batch render once)."""
        return self._cache_key

    def explain(self, error: str) -> str:
        """A render's error with its line numbers where the user wrote them (the cell's, the prelude's, a cell's
        that defined what travelled); a job resumed without its request keeps the numbers of the code sent."""
        return self.request.lines().explain(error) if self.request is not None else error

    def recorded_outcome(self, record: JobRecord, *, cached: bool = False) -> Outcome | None:
        """The outcome of a completed job from its history row, if its saved video can still be played."""
        if record.status != COMPLETED or not _playable(record.video_path):
            return None
        self.job = record.to_job()
        return self._outcome(record.video_path, record.thumbnail_path, record.captions_path, cached=cached)

    def render_kwargs(self) -> dict[str, Any]:
        request = self._request()
        kwargs: dict[str, Any] = {"quality": request.quality, "aspect_ratio": request.aspect_ratio,
                                  "fps": request.fps, "metadata": request.metadata}
        if request.webhook_url is not None:
            kwargs["webhook_url"] = request.webhook_url
        return {"code": request.full_code, "class_name": self.class_name, **kwargs}

    def wait_kwargs(self) -> dict[str, Any]:
        return {"timeout": self.timeout, "on_update": self.update, "expected_seconds": self._expected}

    # -- as the job moves -------------------------------------------------------------------------

    def submitting(self) -> None:
        self._notify("submitting")

    def submitted(self, job: Job) -> None:
        """Right after the POST succeeded: the history row exists before the first poll."""
        request = self._request()
        self.history.record_submitted(
            job, backend=self.backend.name, base_url=self.backend.base_url, key_prefix=self.backend.key_prefix,
            class_name=self.class_name, quality=request.quality, aspect_ratio=request.aspect_ratio,
            fps=request.fps, code=request.full_code, metadata=request.metadata, cache_key=self._cache_key)
        self.job = job
        self._notify(job.status)

    def update(self, job: Job) -> None:
        self.history.record_update(job)
        self.job = job
        if not job.done:  # terminal states are announced by finish(), once the media are saved
            self._notify(job.status)

    def fetch(self, job: Job, client: Kodisc) -> Files:
        """Save the finished job's files locally and record where (a failed job has none)."""
        if job.status != COMPLETED or job.result is None:
            return None, None, None
        return self.saved(job, fetch_assets(client, job))

    async def afetch(self, job: Job, client: AsyncKodisc) -> Files:
        """`fetch()` with the async client (the history write runs in a thread, off the event loop)."""
        if job.status != COMPLETED or job.result is None:
            return None, None, None
        return await asyncio.to_thread(self.saved, job, await afetch_assets(client, job))

    def saved(self, job: Job, assets: Any) -> Files:
        self.history.set_assets(job.job_id, video=assets.video, thumbnail=assets.thumbnail, captions=assets.captions)
        return assets.video, assets.thumbnail, assets.captions

    def finish(self, job: Job, files: Files) -> Outcome:
        """The terminal state: returns the outcome, or raises `RenderFailedError` for a failed job."""
        self.history.record_update(job)
        self.job = job
        self._notify(job.status)
        job.raise_for_status()
        return self._outcome(*files, cached=False)

    # -- plumbing ---------------------------------------------------------------------------------

    def _request(self) -> RenderRequest:
        if self.request is None:
            raise ValidationError("this job was submitted elsewhere: there is no request to send again", field="code")
        return self.request

    def _outcome(self, video: Path | None, thumbnail: Path | None, captions: Path | None, *,
                 cached: bool) -> Outcome:
        assert self.job is not None
        request = self.request
        return Outcome(job=self.job, backend=self.backend, class_name=self.class_name,
                       quality=request.quality if request else None,
                       aspect_ratio=request.aspect_ratio if request else None, video=video,
                       thumbnail=thumbnail, captions=captions, cached=cached, warnings=self.warnings,
                       from_notebook=request.notebook.names if request and request.notebook is not None else ())

    def _estimate(self, quality: str | None) -> None:
        """Expected seconds from the history: any render of this quality, and the last one of this class."""
        median = self.history.median_duration_ms(quality=quality, backend=self.backend.name)
        self._expected = median / 1000 if median else None
        last = self.history.last_duration_ms(class_name=self.class_name, quality=quality, backend=self.backend.name)
        self._previous = last / 1000 if last else None

    def _notify(self, state: str) -> None:
        progress = Progress(state=state, class_name=self.class_name, backend=self.backend, job=self.job,
                            started=self.started, expected_seconds=self._expected, previous_seconds=self._previous)
        session.current().publish(progress, self.observers)

    @classmethod
    def following(cls, record: JobRecord, backend: Backend, *, history: History,
                  observers: Sequence[Observer] = (), timeout: float | None = None) -> RenderFlow:
        """A flow for a job already submitted (from its history row), to follow it again."""
        request = RenderRequest(code=record.code, class_name=record.class_name,
                                quality=record.quality or DEFAULT_QUALITY,
                                aspect_ratio=record.aspect_ratio or DEFAULT_ASPECT_RATIO, fps=record.fps,
                                metadata=record.metadata)
        flow = cls(request, backend, observers=list(observers), history=history, class_name=record.class_name,
                   job=record.to_job(), timeout=timeout)
        flow._estimate(record.quality)
        return flow


# -- the synchronous runner -----------------------------------------------------------------------


def run(flow: RenderFlow) -> Outcome:
    """Check, reuse the cache or submit, then wait for the job (blocking)."""
    hit = submit(flow)
    if hit is not None:
        return hit
    with flow.backend.client() as client:
        return wait(flow, client)


def submit(flow: RenderFlow) -> Outcome | None:
    """Check and submit without waiting (`--no-wait`); returns the cached outcome when there is one."""
    hit = flow.prepare()
    if hit is not None:
        return hit
    with flow.backend.client() as client:
        flow.submitting()
        flow.submitted(client.render(**flow.render_kwargs()))
    return None


def wait(flow: RenderFlow, client: Kodisc) -> Outcome:
    """Wait for the flow's submitted job, then save its media."""
    assert flow.job is not None
    job = client.wait(flow.job, **flow.wait_kwargs())
    return flow.finish(job, flow.fetch(job, client))


def resume_flow(job_id: str, backend: Backend | Callable[[], Backend] | None = None, *,
                history: History | None = None, observers: Sequence[Observer] = (), timeout: float | None = None,
                hints: Hints | None = None) -> RenderFlow:
    """A flow that follows a job submitted earlier: with its request and backend from the history, or,
    for a job the history does not know, on `backend` (a callable is called only then) with no request.
    Raises `NotFoundError` for an unknown job when no `backend` is given."""
    from .backend import NOTEBOOK, backend_for

    history = history if history is not None else session.current().history()
    record = history.get(job_id)
    if record is not None:
        own = backend_for(record.backend, record.base_url, hints=hints or NOTEBOOK)
        return RenderFlow.following(record, own, history=history, observers=observers, timeout=timeout)
    if backend is None:
        raise ValidationError(f"job {job_id[:40]} is not in the local history", field="job_id", next_step="past_jobs")
    chosen = backend() if callable(backend) else backend
    return RenderFlow(None, chosen, observers=list(observers), history=history, class_name="job", timeout=timeout,
                      followed_id=job_id)


def resume(flow: RenderFlow, *, wait_for_end: bool = True) -> Outcome | None:
    """Pick a job up again (`%kodisc_resume`, the panel's re-poll, `kodisc resume`): its saved outcome when
    the history has its playable media; else its state from the backend, then (unless `wait_for_end` is
    False: one look, None while it runs) waits for it to end and saves its media as a render does."""
    job_id = flow.job.job_id if flow.job is not None else flow.followed_id
    assert job_id is not None
    record = flow.history.get(job_id)
    saved = flow.recorded_outcome(record) if record is not None else None
    if saved is not None:
        return saved
    with flow.backend.client() as client:
        job = client.get_job(job_id)
        flow.update(job)
        if job.done:
            return flow.finish(job, flow.fetch(job, client))
        if not wait_for_end:
            return None
        return wait(flow, client)


# -- the asynchronous runner (the --no-wait worker's own event loop) ---------------------------------


async def run_async(flow: RenderFlow, client: AsyncKodisc | None = None) -> Outcome:
    """`run()` on an event loop: the same steps, with `AsyncKodisc` (`client`: one shared by a batch);
    SQLite work runs in threads, so the history (and the observers it calls) never blocks the loop's other jobs."""
    flow.check()  # on the loop: an error here is the caller's, before any thread
    hit = await asyncio.to_thread(flow.prepare)
    if hit is not None:
        return hit
    if client is None:
        async with flow.backend.async_client() as own:
            return await _submit_and_wait(flow, own)
    return await _submit_and_wait(flow, client)


async def _submit_and_wait(flow: RenderFlow, client: AsyncKodisc) -> Outcome:
    flow.submitting()
    job = await client.render(**flow.render_kwargs())
    await asyncio.to_thread(flow.submitted, job)
    return await wait_async(flow, client)


async def wait_async(flow: RenderFlow, client: AsyncKodisc) -> Outcome:
    assert flow.job is not None
    async def update(job: Job) -> None:
        await asyncio.to_thread(flow.update, job)

    job = await client.wait(flow.job, **{**flow.wait_kwargs(), "on_update": update})
    files = await flow.afetch(job, client)
    return await asyncio.to_thread(flow.finish, job, files)


def _digests(folder: Path | None, names: tuple[str, ...]) -> dict[str, str]:
    """SHA-256 of each file the render reads from `folder` (a file gone by now counts as "missing")."""
    digests: dict[str, str] = {}
    if folder is None:
        return digests
    for name in names:
        digest = hashlib.sha256()
        try:
            with open(folder / name, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            digests[name] = "missing"
            continue
        digests[name] = digest.hexdigest()
    return digests


def _playable(path: Path | None) -> bool:
    return path is not None and path.is_file() and path.stat().st_size > 0


def _cache_base_url(backend: Backend) -> str:
    """The embedded server moves to a new port each start but keeps its jobs: key it by name, not port."""
    return "local" if backend.name == "local" else backend.base_url


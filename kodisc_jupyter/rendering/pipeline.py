"""The one render flow behind `%%kodisc`, `kodisc_jupyter.render()` and `kodisc render`.

    preflight -> cache lookup -> POST -> history row -> wait -> history -> assets -> history

`RenderFlow` holds every step that does not touch the network, so the synchronous runner
(`run`, `wait`) and the asynchronous one (`run_async`, `wait_async`, used by the `--no-wait`
worker) differ only in how they call the client. Each state change is reported to the flow's
observers (the status bar, the CLI's progress line) and to every `subscribe()`r of this process
(the jobs panel refreshes on it).
"""
from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._logging import get_logger
from ..contract._errors import ValidationError
from ..contract._rules import COMPLETED, build_render_body
from . import session
from .assets import afetch_assets, fetch_assets
from .history import cache_key
from .preflight import join_prelude, preflight

if TYPE_CHECKING:
    from ..client import AsyncKodisc, Job, Kodisc
    from .backend import Backend
    from .history import History, JobRecord

__all__ = ["PreflightError", "RenderRequest", "Progress", "Outcome", "RenderFlow", "run", "wait", "run_async", "wait_async",
           "submit", "resume_flow", "subscribe", "history"]

logger = get_logger("kodisc_jupyter.pipeline")

Observer = Callable[["Progress"], None]
Files = tuple[Path | None, Path | None, Path | None]  # video, thumbnail, captions



class PreflightError(ValidationError):
    """The cell cannot render as written; `errors` lists every problem found (nothing was sent)."""

    def __init__(self, errors: list[str]) -> None:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"Cannot render: {errors[0]}{more}.", field="code")
        self.errors = list(errors)


def subscribe(callback: Observer) -> Callable[[], None]:
    """Call `callback(progress)` on every state change of any job of this process; returns the unsubscribe."""
    return session.current().subscribe(callback)


def history() -> History:
    """The session's history (one object: it keeps one SQLite connection per thread)."""
    return session.current().history()


@dataclass(frozen=True)
class RenderRequest:
    """What to render; `prelude` (the kernel's `%%kodisc_prelude`) is sent in front of `code`."""

    code: str
    class_name: str | None = None
    quality: str = "medium"
    aspect_ratio: str = "16:9"
    fps: int | None = None
    metadata: Any = None
    webhook_url: Any = None  # None: leave the field out (the key's default webhook applies)
    force: bool = False
    timeout: float | None = None
    prelude: str = ""
    unit: str = "cell"  # what messages call `code`: a notebook's "cell", `kodisc render`'s "file"

    @property
    def full_code(self) -> str:

        return join_prelude(self.prelude, self.code)


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


@dataclass
class RenderFlow:
    """The network-free steps of one render; the runners below drive them."""

    request: RenderRequest
    backend: Backend
    observers: list[Observer] = field(default_factory=list)
    class_name: str = ""
    warnings: tuple[str, ...] = ()
    job: Job | None = None
    started: float = field(default_factory=time.monotonic)
    _checked: bool = False
    _cache_key: str | None = None
    _expected: float | None = None
    _previous: float | None = None

    # -- before anything is sent -----------------------------------------------------------------

    def check(self) -> None:
        """Pre-flight (once): raises `PreflightError` or the client's `ValidationError` (nothing is sent, and
        no "submitting" state is shown for what the client would refuse); keeps warnings and the class name."""
        if self._checked:
            return

        report = preflight(self.request.code, self.request.class_name, prelude=self.request.prelude,
                           unit=self.request.unit)
        if report.errors:
            raise PreflightError(report.errors)
        self.class_name = report.class_name or ""
        build_render_body(**self.render_kwargs())
        self.warnings = tuple(report.warnings)
        self._checked = True

    def cached(self) -> Outcome | None:
        """The completed result of an identical earlier request whose media can still be played."""

        request = self.request
        self._cache_key = cache_key(code=request.full_code, class_name=self.class_name, quality=request.quality,
                                    aspect_ratio=request.aspect_ratio, fps=request.fps, backend=self.backend.name,
                                    base_url=_cache_base_url(self.backend))
        self._estimate(request.quality)
        if request.force:
            return None
        record = history().find_cached(self._cache_key)
        return self.recorded_outcome(record, cached=True) if record is not None else None

    @property
    def cache_key(self) -> str | None:
        """The request's identity once `cached()` ran (identical requests in one batch render once)."""
        return self._cache_key

    def recorded_outcome(self, record: JobRecord, *, cached: bool = False) -> Outcome | None:
        """The outcome of a completed job from its history row, if its saved video can still be played."""
        if record.status != COMPLETED or not _playable(record.video_path):
            return None
        self.job = record.to_job()
        return self._outcome(record.video_path, record.thumbnail_path, record.captions_path, cached=cached)

    def render_kwargs(self) -> dict[str, Any]:
        request = self.request
        kwargs: dict[str, Any] = {"quality": request.quality, "aspect_ratio": request.aspect_ratio,
                                  "fps": request.fps, "metadata": request.metadata}
        if request.webhook_url is not None:
            kwargs["webhook_url"] = request.webhook_url
        return {"code": request.full_code, "class_name": self.class_name, **kwargs}

    def wait_kwargs(self, wait_method: Callable[..., Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"timeout": self.request.timeout, "on_update": self.update}
        if self._expected and "expected_seconds" in inspect.signature(wait_method).parameters:
            kwargs["expected_seconds"] = self._expected
        return kwargs

    # -- as the job moves -------------------------------------------------------------------------

    def submitting(self) -> None:
        self._notify("submitting")

    def submitted(self, job: Job) -> None:
        """Right after the POST succeeded: the history row exists before the first poll."""
        request = self.request
        history().record_submitted(
            job, backend=self.backend.name, base_url=self.backend.base_url, key_prefix=self.backend.key_prefix,
            class_name=self.class_name, quality=request.quality, aspect_ratio=request.aspect_ratio,
            fps=request.fps, code=request.full_code, metadata=request.metadata, cache_key=self._cache_key)
        self.job = job
        self._notify(job.status)

    def update(self, job: Job) -> None:
        history().record_update(job)
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
        history().set_assets(job.job_id, video=assets.video, thumbnail=assets.thumbnail, captions=assets.captions)
        return assets.video, assets.thumbnail, assets.captions

    def finish(self, job: Job, files: Files) -> Outcome:
        """The terminal state: returns the outcome, or raises `RenderFailedError` for a failed job."""
        history().record_update(job)
        self.job = job
        self._notify(job.status)
        job.raise_for_status()
        return self._outcome(*files, cached=False)

    # -- plumbing ---------------------------------------------------------------------------------

    def _outcome(self, video: Path | None, thumbnail: Path | None, captions: Path | None, *,
                 cached: bool) -> Outcome:
        assert self.job is not None
        return Outcome(job=self.job, backend=self.backend, class_name=self.class_name,
                       quality=self.request.quality, aspect_ratio=self.request.aspect_ratio, video=video,
                       thumbnail=thumbnail, captions=captions, cached=cached, warnings=self.warnings)

    def _estimate(self, quality: str | None) -> None:
        """Expected seconds from the history: any render of this quality, and the last one of this class."""
        median = history().median_duration_ms(quality=quality, backend=self.backend.name)
        self._expected = median / 1000 if median else None
        last = history().last_duration_ms(class_name=self.class_name, quality=quality, backend=self.backend.name)
        self._previous = last / 1000 if last else None

    def _notify(self, state: str) -> None:
        progress = Progress(state=state, class_name=self.class_name, backend=self.backend, job=self.job,
                            started=self.started, expected_seconds=self._expected, previous_seconds=self._previous)
        session.current().publish(progress, self.observers)


def resume_flow(record: JobRecord, backend: Backend, observers: list[Observer] | None = None) -> RenderFlow:
    """A flow for a job already submitted (from the history), to wait for it again."""
    request = RenderRequest(code=record.code, class_name=record.class_name, quality=record.quality or "medium",
                            aspect_ratio=record.aspect_ratio or "16:9", fps=record.fps, metadata=record.metadata)
    flow = RenderFlow(request, backend, observers=list(observers or []), class_name=record.class_name)
    flow._estimate(record.quality)
    flow.job = record.to_job()
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
    flow.check()
    hit = flow.cached()
    if hit is not None:
        return hit
    with flow.backend.client() as client:
        flow.submitting()
        flow.submitted(client.render(**flow.render_kwargs()))
    return None


def wait(flow: RenderFlow, client: Kodisc) -> Outcome:
    """Wait for the flow's submitted job, then save its media."""
    assert flow.job is not None
    job = client.wait(flow.job, **flow.wait_kwargs(client.wait))
    return flow.finish(job, flow.fetch(job, client))


# -- the asynchronous runner (the --no-wait worker's own event loop) ---------------------------------


async def run_async(flow: RenderFlow, client: AsyncKodisc | None = None) -> Outcome:
    """`run()` on an event loop: the same steps, with `AsyncKodisc` (`client`: one shared by a batch);
    SQLite work runs in threads, so the history (and the observers it calls) never blocks the loop's other jobs."""
    flow.check()
    hit = await asyncio.to_thread(flow.cached)
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

    job = await client.wait(flow.job, **{**flow.wait_kwargs(client.wait), "on_update": update})
    files = await flow.afetch(job, client)
    return await asyncio.to_thread(flow.finish, job, files)


def _playable(path: Path | None) -> bool:
    return path is not None and path.is_file() and path.stat().st_size > 0


def _cache_base_url(backend: Backend) -> str:
    """The embedded server moves to a new port each start but keeps its jobs: key it by name, not port."""
    return "local" if backend.name == "local" else backend.base_url


"""What `%%kodisc` and `%kodisc_resume` do once they run: pre-flight, the status bar, the wait, the player.

`magic.py` declares the magics and their options; this module (and with it the render core, the
contract and the client) is loaded by the first cell that renders, so `%load_ext` stays cheap.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from .._logging import quiet_logs
from ..cells.definitions import MANIM_IMPORT, resolve
from ..cells.options import CellOptions, render_request
from ..errors import KodiscError, NotFoundError, RenderFailedError, WaitTimeoutError
from ..rendering import pipeline, session
from ..rendering.backend import NOTEBOOK, Backend, resolve_backend
from ..rendering.preflight import leading_config
from .display import CellError, error_bundle, notice_bundle, show
from .frontend import frontend_has_widgets
from .last_frame import last_frame_bundle
from .result import Rendered
from .status import StatusBar

if TYPE_CHECKING:
    from .magic import Kodisc

__all__ = ["render_cell", "resume_job", "magic_backend", "Presenter"]

_IMPORT_NOTICE = "the notebook's Manim import travels with the cells that use it"  # said once per session


def render_cell(magic: Kodisc, options: CellOptions, cell: str) -> None:
    """Pre-flight the cell (nothing is sent when it cannot render), then render it with a live status bar;
    no log record of ours or httpx's reaches the cell meanwhile."""
    with quiet_logs():
        _render(magic, options, cell)


def _render(magic: Kodisc, options: CellOptions, cell: str) -> None:
    try:
        travelling = _definitions(magic, cell, options.class_name)
        if travelling.problems:  # a value that cannot travel: nothing is sent
            raise pipeline.PreflightError(list(travelling.problems))
        request = render_request(options, magic, cell, magic.prelude, travelling.notebook)
        if options.show_code:
            show({"text/plain": request.full_code})
            return
        flow = pipeline.RenderFlow(request, magic_backend(magic))
        flow.check()
    except KeyboardInterrupt:  # pre-flight may be listing Manim's names (once per Manim version)
        raise CellError("Interrupted before anything was sent: nothing was rendered.") from None
    except pipeline.PreflightError as exc:
        if len(exc.errors) > 1:  # the one-line failure names the first; the block lists them all
            show(error_bundle("Cannot render this cell (nothing was sent):", "\n".join(exc.errors)))
        raise CellError(str(exc)) from None
    except KodiscError as exc:
        raise CellError(NOTEBOOK.say(exc)) from None
    for warning in flow.warnings:
        show(notice_bundle(f"Warning: {warning}", kind="warning"))
    # %%manim's player settings: the config lines of earlier cells, then of the cell's own top
    settings = {**travelling.settings, **leading_config(cell)}
    options = dataclasses.replace(options, width=str(settings.get("media_width", "")).strip() or None,
                                  embed=True if settings.get("media_embed") is True else options.embed)
    Presenter(magic, flow, options).render()


def _definitions(magic: Kodisc, cell: str, class_name: str | None) -> Any:
    """What of the notebook travels with the cell (as `%%manim` runs it in the notebook's namespace):
    its definitions as they are now, from the sources of the cells that ran (`In`)."""
    namespace = magic.shell.user_ns if magic.shell is not None else {}
    history = namespace.get("In", [])
    sources = [(f"In [{count}]", source) for count, source in enumerate(history) if count and isinstance(source, str)]
    travelling = resolve(cell, sources, namespace, prelude=magic.prelude, class_name=class_name)
    notebook = travelling.notebook
    if (notebook is not None and notebook.origins[0] == MANIM_IMPORT
            and session.current().first_time(_IMPORT_NOTICE)):
        first = notebook.code.splitlines()[0]
        show(notice_bundle(f"Sending this notebook's `{first}` with the cells that use its names: "
                           "a render sees only the code it is sent."))
    return travelling


def resume_job(magic: Kodisc, job_id: str, options: CellOptions) -> None:
    """Follow a job submitted earlier to its end with the status bar, then show its player."""
    timeout = options.timeout if options.timeout is not None else magic.timeout
    try:  # a job the history does not know is looked for on the backend in use (another machine's job)
        flow = pipeline.resume_flow(job_id, lambda: magic_backend(magic), timeout=timeout)
    except KodiscError as exc:
        raise CellError(NOTEBOOK.say(exc)) from None
    with quiet_logs():
        Presenter(magic, flow, options).resume(job_id)


def magic_backend(magic: Kodisc) -> Backend:
    """The backend `%config Kodisc.backend` names; its notice (the local server's) once per session."""
    backend = resolve_backend(magic.backend)
    if backend.notice and session.current().first_time(backend.notice):
        show(notice_bundle(backend.notice))
    return backend


class Presenter:
    """Drives one flow for a cell: status bar, waiting, and the final output or one-line failure."""

    def __init__(self, magic: Kodisc, flow: Any, options: CellOptions) -> None:
        self.magic = magic
        self.flow = flow
        self.options = options
        self.bar = StatusBar(flow.class_name or "job", flow.backend.label)
        flow.observers.append(self._observe)

    def _observe(self, progress: Any) -> None:
        self.bar(progress)
        if not self.bar.shown:
            self.bar.show()

    def render(self) -> None:
        with self._failures():
            if self.options.no_wait:
                outcome = pipeline.submit(self.flow)
                if outcome is None:
                    self._watch_in_background()
                    return
            else:
                outcome = pipeline.run(self.flow)
            self._finish(outcome)

    def resume(self, job_id: str) -> None:
        with self._failures():
            try:
                outcome = pipeline.resume(self.flow)
            except NotFoundError:
                raise self._not_found(job_id) from None
            assert outcome is not None  # it waited for the end
            self._finish(outcome)

    def _not_found(self, job_id: str) -> CellError:
        """One line saying where the job was looked for (the API's 404 text speaks of keys)."""
        local = self.flow.backend.name == "local"
        where = "the local server" if local else self.flow.backend.label
        whose = "" if local else " (and that the key in use created it)"
        shown = job_id if len(job_id) <= 40 else job_id[:37] + "…"  # whatever was pasted, briefly
        return CellError(f"No job {shown} in the history or on {where}: check the id{whose}; past jobs: %kodisc_jobs")

    def _finish(self, outcome: Any) -> None:
        rendered = Rendered(outcome)
        rendered.embed = self._embed()
        note = None
        if self.options.save_last_frame:  # -s, as %%manim -s: the last frame instead of the player
            bundle, note = last_frame_bundle(rendered)
        elif frontend_has_widgets():
            width = (self.options.width or self.magic.width).strip()
            bundle = rendered.bundle(embed=rendered.embed, embed_max_mb=self.magic.embed_max_mb,
                                     colab_max_mb=self.magic.colab_max_mb,
                                     width=int(width) if width.isdigit() else width or None)
        else:  # terminal IPython: no player to draw, so no copy into kodisc_media/
            bundle = {"text/plain": rendered.text()}
        self.bar.replace(bundle)
        if note:
            show(notice_bundle(note, kind="warning"))
        if self.options.out and self.magic.shell is not None:
            self.magic.shell.user_ns[self.options.out] = rendered

    def _embed(self) -> bool | None:
        if self.options.embed or self.magic.embed:
            return True
        return None  # None: embed where a linked file cannot play (Colab, VS Code)

    def _watch_in_background(self) -> None:
        async def watch() -> None:
            with quiet_logs(), self._failures(in_cell=False):
                async with self.flow.backend.async_client() as client:
                    self._finish(await pipeline.wait_async(self.flow, client))

        session.current().worker().submit(watch)

    def _failures(self, *, in_cell: bool = True) -> Any:
        return FailureGuard(self, in_cell)


class FailureGuard:
    """Turns each way a render can end badly into an error block in place and, in a cell, a CellError."""

    def __init__(self, presenter: Presenter, in_cell: bool) -> None:
        self.presenter = presenter
        self.in_cell = in_cell

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None:
            return False

        flow = self.presenter.flow
        job_id = flow.job.job_id if flow.job is not None else None
        name = flow.class_name or "job"
        bar = self.presenter.bar
        block = None
        if isinstance(exc, KeyboardInterrupt):
            if job_id:
                message = (f"Stopped waiting for {name}; job {job_id} goes on. "
                           f"Pick it up with %kodisc_resume {job_id}")
                block = self._left_running(message)
            else:
                message = f"Interrupted while submitting {name}: a job may exist; check %kodisc_jobs before rendering again."
            title, detail = message, None
        elif isinstance(exc, RenderFailedError):
            detail = flow.explain(exc.job.error or "no reason given")  # the cell's own lines
            message = f"{name} failed to render (job {job_id}): {detail.strip().splitlines()[-1]}"
            title = f"{name} failed to render (job {job_id})"
        elif isinstance(exc, WaitTimeoutError):
            state = f"still {exc.job.status}" if exc.job is not None else "not finished"
            message = (f"{name} is {state} after {exc.timeout:g} s; job {job_id} goes on. "
                       f"Pick it up with %kodisc_resume {job_id}")
            title, detail = message, None
            block = self._left_running(message)
        elif isinstance(exc, KodiscError):
            message = NOTEBOOK.say(exc)
            title, detail = message, None
        else:
            return False  # a bug of ours: let IPython show it in full
        if bar.shown or not self.in_cell:
            bar.replace(block or error_bundle(title, detail))
        if not self.in_cell:
            return True  # --no-wait: the error block is the report; no cell is running
        raise CellError(message) from None

    def _left_running(self, message: str) -> dict[str, Any]:
        """A job still going on is no failure: not a red block. In a cell, the CellError below says what
        to do, so the bar just freezes at its last state; with --no-wait the block itself says it."""
        if not self.in_cell:
            return notice_bundle(message, kind="warning")
        return notice_bundle(f"{self.presenter.bar.text()} · no longer followed here; the job goes on", kind="warning")

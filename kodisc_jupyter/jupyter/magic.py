"""`%%kodisc`, `%%kodisc_prelude` and `%kodisc_resume`: render Manim scenes from notebook cells.

`Kodisc` is both the Magics class and a traitlets `Configurable`, so `%config Kodisc.quality =
"low"` (and `--Kodisc.backend=local` on the kernel command line) set its defaults; a
`[tool.kodisc]` table in the nearest pyproject.toml sets them too, below `%config`. Loading
imports only IPython and traitlets: the client, httpx, ipywidgets and the server come in on the
first render.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class

from .._logging import quiet_logs
from ..cells import options as cell_options
from ..cells.options import CellOptions, KodiscSettings, apply_pyproject_defaults
from ..errors import KodiscError, NotFoundError, RenderFailedError, WaitTimeoutError
from ..rendering import session
from ..rendering.backend import NOTEBOOK, resolve_backend
from .display import CellError, error_bundle, notice_bundle, show
from .frontend import frontend_has_widgets
from .last_frame import last_frame_bundle

__all__ = ["Kodisc", "load_ipython_extension", "unload_ipython_extension"]

_IMPORT_NOTICE = "the notebook's Manim import travels with the cells that use it"  # said once per session


def _parse(parser: argparse.ArgumentParser, line: str) -> argparse.Namespace:
    """A magic's options; a bad option fails the cell like any render error (an error output, so papermill stops)."""
    try:
        return cell_options.parse(parser, line)
    except cell_options.OptionsError as exc:
        raise CellError(str(exc)) from None


def _options_help(parser: Any) -> Any:
    """Make `%%magic?` show the parser's help, as IPython's magic_arguments does."""
    def decorate(func: Any) -> Any:
        func.__doc__ = parser.format_help()
        return func
    return decorate


@magics_class
class Kodisc(Magics, KodiscSettings):
    """Render Manim scenes through Kodisc, or locally with the embedded server when no key is set."""

    def __init__(self, shell: Any) -> None:
        KodiscSettings.__init__(self, config=shell.config)
        Magics.__init__(self, shell=shell)
        self.prelude = ""
        self._apply_pyproject_defaults()

    # -- %%kodisc ---------------------------------------------------------------------------------

    @_options_help(cell_options.RENDER)
    @cell_magic
    def kodisc(self, line: str, cell: str) -> None:
        """Render the Scene in this cell and show it with a live status bar, then the player."""
        with quiet_logs():
            self._render_cell(CellOptions.from_namespace(_parse(cell_options.RENDER, line)), cell)

    def _render_cell(self, options: CellOptions, cell: str) -> None:
        from ..rendering import pipeline
        from ..rendering.preflight import leading_config

        try:
            travelling = self._definitions(cell, options.class_name)
            if travelling.problems:  # a value that cannot travel: nothing is sent
                raise pipeline.PreflightError(list(travelling.problems))
            request = cell_options.render_request(options, self, cell, self.prelude, travelling.notebook)
            if options.show_code:
                show({"text/plain": request.full_code})
                return
            flow = pipeline.RenderFlow(request, self._backend())
            flow.check()
        except KeyboardInterrupt:  # pre-flight may be listing Manim's names (once per Manim version)
            raise CellError("Interrupted before anything was sent: nothing was rendered.") from None
        except pipeline.PreflightError as exc:
            if len(exc.errors) > 1:  # the one-line failure names the first; the block lists them all
                show(error_bundle("Cannot render this cell (nothing was sent):", "\n".join(exc.errors)))
            raise CellError(str(exc)) from None
        except KodiscError as exc:
            raise CellError(NOTEBOOK.say(exc)) from None
        self._show_warnings(flow.warnings)
        # %%manim's player settings: the config lines of earlier cells, then of the cell's own top
        settings = {**travelling.settings, **leading_config(cell)}
        options = dataclasses.replace(options, width=str(settings.get("media_width", "")).strip() or None,
                                      embed=True if settings.get("media_embed") is True else options.embed)
        _Presenter(self, flow, options).render()

    def _definitions(self, cell: str, class_name: str | None) -> Any:
        """What of the notebook travels with the cell (as `%%manim` runs it in the notebook's namespace):
        its definitions as they are now, from the sources of the cells that ran (`In`)."""
        from ..cells.definitions import MANIM_IMPORT, resolve

        namespace = self.shell.user_ns if self.shell is not None else {}
        history = namespace.get("In", [])
        sources = [(f"In [{count}]", source) for count, source in enumerate(history) if count and isinstance(source, str)]
        travelling = resolve(cell, sources, namespace, prelude=self.prelude, class_name=class_name)
        notebook = travelling.notebook
        if (notebook is not None and notebook.origins[0] == MANIM_IMPORT
                and session.current().first_time(_IMPORT_NOTICE)):
            first = notebook.code.splitlines()[0]
            show(notice_bundle(f"Sending this notebook's `{first}` with the cells that use its names: "
                               "a render sees only the code it is sent."))
        return travelling

    # -- %%kodisc_prelude ------------------------------------------------------------------------

    @_options_help(cell_options.PRELUDE)
    @line_cell_magic
    def kodisc_prelude(self, line: str, cell: str | None = None) -> None:
        """As a cell magic: code put in front of every later render (imports, styles). `--clear` drops it."""
        args = _parse(cell_options.PRELUDE, line)
        if args.clear:
            self.prelude = ""
            show(notice_bundle("Kodisc prelude cleared."))
        elif cell is not None:
            import ast

            try:
                ast.parse(cell)
            except SyntaxError as exc:
                raise CellError(f"the prelude does not parse: line {exc.lineno}: {exc.msg}; it was not changed.") from None
            self.prelude = cell
            count = len(cell.strip().splitlines())
            show(notice_bundle(f"Kodisc prelude set ({count} line{'' if count == 1 else 's'}): "
                               "it is sent in front of every render."))
        elif self.prelude.strip():
            show({"text/plain": self.prelude})
        else:
            show(notice_bundle("No Kodisc prelude (set one with %%kodisc_prelude)."))

    # -- %kodisc_resume ---------------------------------------------------------------------------

    @_options_help(cell_options.RESUME)
    @line_magic
    def kodisc_resume(self, line: str) -> None:
        """Re-attach the status bar and player to a job, also after a kernel restart."""
        from ..rendering import pipeline

        parsed = _parse(cell_options.RESUME, line)
        options = CellOptions.from_namespace(parsed)
        timeout = options.timeout if options.timeout is not None else self.timeout
        try:  # a job the history does not know is looked for on the backend in use (another machine's job)
            flow = pipeline.resume_flow(parsed.job_id, self._backend, timeout=timeout)
        except KodiscError as exc:
            raise CellError(NOTEBOOK.say(exc)) from None
        with quiet_logs():
            _Presenter(self, flow, options).resume(parsed.job_id)

    # -- helpers --------------------------------------------------------------------------------

    def _backend(self) -> Any:
        backend = resolve_backend(self.backend)
        if backend.notice and session.current().first_time(backend.notice):
            show(notice_bundle(backend.notice))
        return backend

    def _show_warnings(self, warnings: tuple[str, ...]) -> None:
        for warning in warnings:
            show(notice_bundle(f"Warning: {warning}", kind="warning"))

    def _apply_pyproject_defaults(self) -> None:
        """`[tool.kodisc]` of the nearest pyproject.toml, unless `%config`/the command line set the trait."""
        apply_pyproject_defaults(self, Path.cwd(), self.config.get("Kodisc", {}))


class _Presenter:
    """Drives one flow for a cell: status bar, waiting, and the final output or one-line failure."""

    def __init__(self, magic: Kodisc, flow: Any, options: CellOptions) -> None:
        from .status import StatusBar

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
        from ..rendering import pipeline

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
        from ..rendering import pipeline

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
        from .result import Rendered

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
        from ..rendering import pipeline

        async def watch() -> None:
            with quiet_logs(), self._failures(in_cell=False):
                async with self.flow.backend.async_client() as client:
                    self._finish(await pipeline.wait_async(self.flow, client))

        session.current().worker().submit(watch)

    def _failures(self, *, in_cell: bool = True) -> Any:
        return _FailureGuard(self, in_cell)


class _FailureGuard:
    """Turns each way a render can end badly into an error block in place and, in a cell, a CellError."""

    def __init__(self, presenter: _Presenter, in_cell: bool) -> None:
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


_loaded: dict[int, Kodisc] = {}  # id(shell) -> the registered magics, so loading twice is harmless


def load_ipython_extension(ipython: Any) -> None:
    """Register `Kodisc` (and the account magics) once per shell; `%config Kodisc.*` finds it."""
    if id(ipython) in _loaded:
        return
    from .account_magics import AccountMagics

    session.current()  # the extension's lifetime is the session's: unload closes it
    magics = Kodisc(ipython)
    ipython.register_magics(magics)
    ipython.register_magics(AccountMagics)  # IPython also adds both to shell.configurables (%config)
    _loaded[id(ipython)] = magics


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics, forget `%config Kodisc`, and close the session (worker, embedded server, history)."""
    magics = _loaded.pop(id(ipython), None)
    if magics is None:
        return
    from .account_magics import AccountMagics

    registered = ipython.magics_manager.magics
    for instance in (magics, ipython.magics_manager.registry.get(AccountMagics.__name__)):
        if instance is None:
            continue
        for kind, names in instance.magics.items():
            for name in names:
                registered[kind].pop(name, None)
        ipython.magics_manager.registry.pop(type(instance).__name__, None)
        while instance in ipython.configurables:
            ipython.configurables.remove(instance)
    session.close_current()

"""`kodisc render NOTEBOOK.ipynb ...`: render every `%%kodisc` cell of a course in one batch.

Each cell becomes the very `RenderFlow` executing its notebook would run (`cells/notebook`), so
the batch fills the shared cache and history and a later execution sends no render at all.
Renders run `-j` at a time on one event loop with one client per backend; cached cells and
duplicates are not sent. One tqdm bar follows the batch; a table sums it up.
"""
from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from .._logging import quiet_logs
from ..cells.notebook import NotebookError, render_cells
from ..contract._errors import KodiscError, RenderFailedError
from ..rendering import pipeline, session
from ..rendering.backend import COMMAND_LINE, resolve_backend, stop_local_server
from ..rendering.views import format_credits, format_seconds, table_text
from .exit_codes import EXIT_BAD_INPUT, EXIT_OK, EXIT_RENDER_FAILED, fail

if TYPE_CHECKING:
    from ..cells.notebook import RenderCell
    from ..rendering.backend import Backend
    from ..rendering.history import JobRecord
    from ..rendering.pipeline import RenderFlow

__all__ = ["prerender", "KODISC_JOBS"]

KODISC_JOBS = 8  # Kodisc renders in parallel on its side; the client only waits
COLUMNS = ("Notebook", "Cell", "Class", "Status", "Credits", "Time")


@dataclass
class _Item:
    cell: RenderCell
    flow: RenderFlow | None = None
    status: str = "pending"  # cached | would render | rendered | failed | duplicate
    credits: float | None = None
    seconds: float | None = None
    error: str | None = None
    same_as: _Item | None = None
    pending_job: JobRecord | None = None  # submitted by an interrupted batch: waited for, not sent again
    dependents: list[_Item] = field(default_factory=list)

    def row(self) -> list[str]:
        status = f"same as cell {self.same_as.cell.number}" if self.same_as is not None else self.status
        seconds = format_seconds(self.seconds) if self.seconds is not None else "—"
        return [str(self.cell.notebook), str(self.cell.number), self._class_name(), status, format_credits(self.credits),
                seconds]

    def _class_name(self) -> str:
        if self.flow is not None and self.flow.class_name:
            return self.flow.class_name
        request = self.cell.request
        return (request.class_name if request is not None else None) or "?"


def prerender(notebooks: list[Path], *, jobs: int | None, force: bool, dry_run: bool, backend_choice: str | None) -> int:
    """Plan every notebook's cells, then render (or list, with `dry_run`) what is not cached."""
    try:
        cells = [cell for notebook in notebooks for cell in render_cells(notebook)]
    except NotebookError as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    if not cells:
        print(f"No %%kodisc cells in {', '.join(map(str, notebooks))}: nothing to render.")
        return EXIT_OK
    folders = {notebook.resolve().parent for notebook in notebooks}
    if len(folders) == 1:  # the local server's renders read the files beside them, as their kernel's would
        session.current().use_scene_files(folders.pop())
    try:
        items = _plan(cells, backend_choice, force=force, start=not dry_run)
        pending = [item for item in items if item.status == "pending"]
        if dry_run:
            return _dry_run(items, pending)
        backends = {item.flow.backend for item in pending if item.flow is not None}
        limit = jobs or _default_jobs(backends)
        for backend in backends:
            if backend.notice:
                print(backend.notice, file=sys.stderr)
        started = time.monotonic()
        if pending:
            with quiet_logs():  # the table and the bar are the report (a notebook's `from manim import *` may
                asyncio.run(_render_all(pending, limit))  # have set up Manim's log handler in this process)
        return _report(items, time.monotonic() - started, limit)
    except KodiscError as exc:  # no backend at all (no key, no Manim): before anything was sent
        return fail(str(exc), EXIT_BAD_INPUT)
    finally:
        stop_local_server(wait=False)  # the command ends next


def _plan(cells: list[RenderCell], backend_choice: str | None, *, force: bool, start: bool) -> list[_Item]:
    """A flow per cell, pre-flighted and looked up in the cache; identical requests render once."""
    backends: dict[str, Backend] = {}
    by_key: dict[str | None, _Item] = {}
    items = []
    for cell in cells:
        item = _Item(cell)
        items.append(item)
        if cell.request is None:
            item.status, item.error = "failed", cell.error
            continue
        choice = backend_choice or cell.backend
        if choice not in backends:
            backends[choice] = resolve_backend(choice, hints=COMMAND_LINE, start=start)
        request = dataclasses.replace(cell.request, force=force or cell.request.force)
        item.flow = flow = pipeline.RenderFlow(request, backends[choice])
        try:
            flow.check()
        except pipeline.PreflightError as exc:
            item.status, item.error = "failed", str(exc)
            continue
        if flow.prepare() is not None:
            item.status, item.credits = "cached", 0.0
        elif flow.cache_key in by_key:
            first = by_key[flow.cache_key]
            item.same_as, item.status = first, "cached"
            first.dependents.append(item)
        else:
            by_key[flow.cache_key] = item
            if not request.force and flow.cache_key is not None:
                item.pending_job = flow.history.find_pending(flow.cache_key)
    return items


def _default_jobs(backends: set[Backend]) -> int:
    """The embedded server renders one scene per CPU; Kodisc takes a few more at once."""
    if any(backend.name == "local" for backend in backends):
        return os.cpu_count() or 1
    return KODISC_JOBS


async def _render_all(pending: list[_Item], limit: int) -> None:


    gate = asyncio.Semaphore(limit)
    async with AsyncExitStack() as stack:
        clients: dict[Backend, Any] = {}
        for item in pending:
            assert item.flow is not None
            if item.flow.backend not in clients:
                clients[item.flow.backend] = await stack.enter_async_context(item.flow.backend.async_client())
        bar = stack.enter_context(tqdm(total=len(pending), desc="Rendering", unit="scene", file=sys.stderr,
                                       dynamic_ncols=True, disable=None))  # no bar in CI logs: a line per cell
        await asyncio.gather(*(_render_one(item, clients[item.flow.backend], gate, bar)  # type: ignore[union-attr]
                               for item in pending))


async def _render_one(item: _Item, client: Any, gate: asyncio.Semaphore, bar: Any) -> None:
    flow = item.flow
    assert flow is not None
    async with gate:
        try:
            outcome = await _picked_up(item, client) if item.pending_job is not None else None
            if outcome is None:
                outcome = await pipeline.run_async(flow, client)
        except RenderFailedError as exc:
            error = flow.explain(exc.job.error or "no reason given")  # the cell's own lines
            detail = error.strip().splitlines() or ["no reason given"]
            item.status, item.error = "failed", f"render failed (job {exc.job.job_id}): {detail[-1]}"
            item.credits = exc.job.credits_cost
        except KodiscError as exc:
            item.status, item.error = "failed", str(exc)
        else:
            job = outcome.job
            item.status = "cached" if outcome.cached else "rendered"
            item.credits = 0.0 if outcome.cached else job.credits_cost
            item.seconds = job.duration_ms / 1000 if job.duration_ms is not None else None
    for dependent in item.dependents:
        dependent.credits = 0.0
        if item.status == "failed":
            dependent.status, dependent.error = "failed", item.error
    picked = f" (picked up job {item.pending_job.job_id})" if item.pending_job is not None else ""
    bar.write(f"{item.cell.where}: {item._class_name()} {item.status}{picked}" + (f" ({item.error})" if item.error else ""),
              file=sys.stderr)
    bar.update(1)


async def _picked_up(item: _Item, client: Any) -> Any:
    """Wait for the job an interrupted batch left running; None (render anew) if the server lost it."""
    assert item.pending_job is not None and item.flow is not None
    flow = pipeline.RenderFlow.following(item.pending_job, item.flow.backend, history=item.flow.history)
    try:
        outcome = await pipeline.wait_async(flow, client)
    except RenderFailedError:
        raise
    except KodiscError:
        item.pending_job = None
        return None
    item.flow = flow
    return outcome


def _dry_run(items: list[_Item], pending: list[_Item]) -> int:
    """What would render and what it would cost (from the history: earlier renders of the same kind)."""
    unknown = 0
    total = 0.0
    for item in pending:
        assert item.flow is not None
        item.status = "would render"
        assert item.flow.request is not None
        item.credits = item.flow.history.estimated_credits(class_name=item.flow.class_name,
                                                           quality=item.flow.request.quality,
                                                           backend=item.flow.backend.name)
        if item.credits is None:
            unknown += 1
        else:
            total += item.credits
    print(table_text(COLUMNS, [item.row() for item in items]))
    cost = f"about {format_credits(total)} credits" + (f" plus {unknown} render(s) of unknown cost" if unknown else "")
    print(f"{len(pending)} of {len(items)} cells would render ({cost}); nothing was sent.")
    failed = [item for item in items if item.status == "failed"]
    _print_failures(failed)
    return EXIT_RENDER_FAILED if failed else EXIT_OK


def _report(items: list[_Item], wall: float, limit: int) -> int:
    print(table_text(COLUMNS, [item.row() for item in items]))
    rendered = sum(item.status == "rendered" for item in items)
    cached = sum(item.status == "cached" for item in items)
    failed = [item for item in items if item.status == "failed"]
    credits = sum(item.credits or 0 for item in items)
    print(f"{rendered} rendered, {cached} cached, {len(failed)} failed · {format_credits(credits)} credits · "
          f"{format_seconds(wall)} with -j {limit}")
    _print_failures(failed)
    return EXIT_RENDER_FAILED if failed else EXIT_OK


def _print_failures(failed: list[_Item]) -> None:
    for item in failed:
        if item.same_as is None:
            name = item._class_name()
            print(f"kodisc: {item.cell.where}{'' if name == '?' else f' ({name})'}: {item.error}", file=sys.stderr)



"""The account panel: balance from `/me` and past jobs from the history, as one ipywidgets view.

`PanelModel` is what the panel shows, with no widget: the account line, one page of the history
(the Kodisc API cannot list jobs), the credits spent, the job playing and the last action's word,
and the text and HTML snapshots of all that. `Panel` is its view: the widgets, the buttons that
call the model, and the refresh when a job of this kernel changes. Every display of the panel is
a mimebundle whose `text/html` and `text/plain` are the model's snapshots, updated after each
refresh, so an exported or untrusted notebook still shows the balance and the table as they were.
The HTML pieces shared with `%kodisc_jobs` are `history_html.py`.
"""
from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..contract._errors import KodiscError, RenderFailedError, ValidationError
from ..contract._rules import FAILED, PENDING_STATUSES, QUEUED, TERMINAL_STATUSES
from ..rendering.backend import Backend, resolve_backend
from ..rendering.pipeline import history as shared_history
from ..rendering.pipeline import resume, resume_flow, subscribe
from ..rendering.views import (
    COLUMNS,
    STATUS_CHOICES,
    balance_line,
    jobs_text,
    page_caption,
    row_cells,
    spending,
    spending_text,
)
from .history_html import escaped, jobs_html, spending_html, stored_player, thumb_and_id_html, thumbnail_data_url

__all__ = ["Panel", "PanelModel"]

_PLAYER_MAX_BYTES = 20 * 1024 * 1024  # larger videos are not pushed through the widget channel
# With the table: the row that is playing stands out.
_ROW_STYLE = "<style>.kodisc-job-row.kodisc-selected{background:rgba(33,150,243,0.12);border-radius:4px}</style>"
REFRESH_DELAY = 0.2  # seconds: job changes within it make one refresh


class PanelModel:
    """The panel's state and actions, without widgets; `Panel` draws it. The balance is asked of `/me`
    only by `load_balance()` (the panel's first display, its Refresh button, a job accepted or settled),
    the history only when the rows can have changed (`load_rows()`), never to draw."""

    def __init__(self, backend: Backend, history: Any, *, page_size: int = 10) -> None:
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValidationError(f"page_size must be a whole number of at least 1; got {page_size!r}.",
                                  field="page_size")
        self.backend = backend
        self.history = history
        self.page_size = page_size
        self.page = 0
        self.status = "all"
        self.selected: str | None = None
        self.records: list[Any] = []
        self.total = 0
        self.spent: dict[str, Any] = {"today": 0.0, "week": 0.0, "days": []}
        self.account: Any = None
        self.balance_error = ""
        self.message = ""  # the outcome of the last action (select, re-poll)
        self._client: Any = None
        self._thumbs: dict[tuple[str, float], str | None] = {}

    # -- loading -------------------------------------------------------------------------
    def load_balance(self) -> None:
        """Ask `/me` for the balance (a refused key or an outage is kept as the line to show)."""
        if self._client is None:
            self._client = self.backend.client()
        try:
            self.account = self._client.me()
            self.balance_error = ""
        except KodiscError as exc:
            self.balance_error = f"Balance unavailable: {exc}"

    def load_rows(self) -> None:
        """This page of the history (clamped to the pages that exist) and the credits spent."""
        status = None if self.status == "all" else self.status
        self.total = self.history.count(status)
        self.page = min(self.page, max(0, (self.total - 1) // self.page_size))
        self.records = self.history.list(limit=self.page_size, offset=self.page * self.page_size, status=status)
        self.spent = spending(self.history)

    # -- actions -------------------------------------------------------------------------
    def set_status(self, status: str) -> None:
        if status not in STATUS_CHOICES:
            raise ValidationError(f"status must be one of {', '.join(STATUS_CHOICES)}; got {status!r}.", field="status")
        self.status, self.page = status, 0
        self.load_rows()

    def go_to(self, number: int) -> None:
        self.page = max(0, number)
        self.load_rows()

    def select(self, job_id: str) -> dict[str, Any] | None:
        """The job's player bundle from its saved media, or None (and `message` says why)."""
        record = self.history.get(job_id)
        if record is None:
            self.message = f"Job {job_id} is not in the history."
            return None
        if not record.video_path or not Path(record.video_path).is_file():
            reason = f"failed: {record.error or 'no reason given'}" if record.status == FAILED else record.status
            self.message = f"Job {job_id} has no saved video ({reason})."
            self.selected = None
            return None
        if Path(record.video_path).stat().st_size > _PLAYER_MAX_BYTES:
            self.message = (f"Job {job_id}'s video is too large to play inside the panel; "
                            f"show it with %kodisc_resume {job_id}")  # no private path in a saved snapshot
            return None
        self.selected, self.message = job_id, ""
        return stored_player(record)

    def repoll(self, job_id: str) -> None:
        """One look at the job on its backend; a finished job gets its media saved, as a render does."""
        if self.history.get(job_id) is None:
            self.message = f"Job {job_id} is not in the history."
            return
        try:
            flow = resume_flow(job_id, history=self.history)
            resume(flow, wait_for_end=False)
            assert flow.job is not None
            self.message = f"Job {job_id} is {flow.job.status}."
        except RenderFailedError as exc:
            self.message = f"Job {job_id} failed: {exc.job.error or 'no reason given'}"
        except KodiscError as exc:
            self.message = f"Could not re-poll {job_id}: {exc}"
        self.load_rows()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- views ---------------------------------------------------------------------------
    @property
    def offset(self) -> int:
        return self.page * self.page_size

    def where(self) -> str:
        return "the local Manim server" if self.backend.name == "local" else self.backend.base_url

    def account_line(self) -> str:
        if self.balance_error:
            return f"{self.backend.label} · {self.balance_error}"
        if self.account is None:
            return f"{self.backend.label} · balance unknown"
        return balance_line(self.account, self.backend.label)

    def page_caption(self) -> str:
        return page_caption(len(self.records), self.total, self.offset)

    def thumbnail(self, record: Any) -> str | None:
        path = record.thumbnail_path
        if not path or not Path(path).is_file():
            return None
        key = (str(path), Path(path).stat().st_mtime)
        if key not in self._thumbs:
            self._thumbs[key] = thumbnail_data_url(path)
        return self._thumbs[key]

    def text(self) -> str:
        lines = [self.account_line(), spending_text(self.spent)]
        if self.status != "all":
            lines.append(f"Status filter: {self.status}")
        lines.append(jobs_text(self.records, total=self.total, offset=self.offset, status=self.status))
        if self.message:
            lines.append(self.message)
        return "\n".join(lines)

    def html(self) -> str:
        thumbs = {r.job_id: t for r in self.records if (t := self.thumbnail(r))}
        table = jobs_html(self.records, total=self.total, offset=self.offset, thumbnails=thumbs, status=self.status)
        status = f"<div>Status filter: {escaped(self.status)}</div>" if self.status != "all" else ""
        message = f'<div class="kodisc-message">{escaped(self.message)}</div>' if self.message else ""
        return (f'<div class="kodisc-panel"><div class="kodisc-balance">{escaped(self.account_line())}</div>'
                f"{spending_html(self.spent)}{status}{table}{message}</div>")


def _grid(cells: Iterable[str], *, header: bool = False) -> str:
    weight = "font-weight:600;" if header else ""
    inner = "".join(f"<div style='overflow:hidden;text-overflow:ellipsis;white-space:nowrap'>{c}</div>"
                    for c in (cells if not header else (escaped(c) for c in cells)))
    return (f"<div style='display:grid;{weight}grid-template-columns:72px 6em 10em 5em 6em 5em 6em 11em;"
            f"gap:6px;align-items:center'>{inner}</div>")


def _close_tree(widget: Any) -> None:
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    widget.close()


class Panel:
    """Balance and past jobs, refreshing itself when a job of this kernel changes state.

    `Panel(backend="auto", page_size=10)`; display it (last expression of a cell or
    `display(panel)`): the first display asks `/me` for the balance. `refresh()`, `select(job_id)`,
    `repoll(job_id)`, `set_status(status)`, `page(n)` drive it from code; the buttons call the same
    methods. Bad arguments raise `ValidationError`.
    """

    def __init__(self, backend: Any = "auto", *, history: Any = None, page_size: int = 10) -> None:
        import ipywidgets as w

        chosen = resolve_backend(backend) if isinstance(backend, str) else backend
        self.model = PanelModel(chosen, history if history is not None else shared_history(), page_size=page_size)
        self._lock = threading.RLock()
        self._pending_lock = threading.Lock()
        self._pending: threading.Timer | None = None  # the coalesced refresh job changes asked for
        self._pending_balance = False
        self._display_id = f"kodisc-panel-{uuid.uuid4().hex}"
        self._displayed = False
        self._shown_text = ""

        self._account_html = w.HTML().add_class("kodisc-account")
        self._balance_html = w.HTML().add_class("kodisc-balance")
        self._refresh_button = w.Button(description="Refresh", icon="refresh",
                                        tooltip="Reload the balance and the jobs").add_class("kodisc-refresh")
        self._spending_html = w.HTML().add_class("kodisc-spending")
        self._filter = w.Dropdown(options=list(STATUS_CHOICES), value="all", description="Status",
                                  layout=w.Layout(width="14em")).add_class("kodisc-filter")
        self._prev_button = w.Button(description="‹ Newer", layout=w.Layout(width="7em")).add_class("kodisc-prev")
        self._next_button = w.Button(description="Older ›", layout=w.Layout(width="7em")).add_class("kodisc-next")
        self._page_label = w.HTML().add_class("kodisc-page")
        self._table_header = w.HTML(_ROW_STYLE + _grid(["", *COLUMNS], header=True))
        self._rows = [self._make_row(w, slot) for slot in range(page_size)]
        self._table = w.VBox([self._table_header, *(row for row, *_ in self._rows)]).add_class("kodisc-jobs-table")
        self._player = w.Output().add_class("kodisc-panel-player")  # a bundle: our renderer draws it
        self._message_html = w.HTML().add_class("kodisc-message")
        self.widget = w.VBox([
            w.HBox([w.VBox([self._account_html, self._balance_html]), self._refresh_button]),
            self._spending_html,
            w.HBox([self._filter, self._prev_button, self._page_label, self._next_button]),
            self._table, self._message_html, self._player,
        ]).add_class("kodisc-panel")

        self._refresh_button.on_click(lambda _: self.refresh())
        self._prev_button.on_click(lambda _: self.page(self.model.page - 1))
        self._next_button.on_click(lambda _: self.page(self.model.page + 1))
        self._filter.observe(lambda change: self.set_status(change["new"]), names="value")

        self._unsubscribe = subscribe(self._on_progress)
        self.refresh(balance=False)  # the rows from the history; the balance waits for the first display

    def _make_row(self, w: Any, slot: int) -> tuple[Any, Any, Any, Any]:
        cells = w.HTML(layout=w.Layout(width="auto")).add_class("kodisc-job-cells")
        show = w.Button(description="Play", icon="play", layout=w.Layout(width="6em")).add_class("kodisc-select")
        repoll = w.Button(description="Re-poll", icon="refresh", layout=w.Layout(width="7em")).add_class("kodisc-repoll")
        row = w.HBox([cells, show, repoll], layout=w.Layout(display="none")).add_class("kodisc-job-row")
        show.on_click(lambda _, i=slot: self._row_action(i, self.select))
        repoll.on_click(lambda _, i=slot: self._row_action(i, self.repoll))
        return row, cells, show, repoll

    def _row_action(self, slot: int, action: Any) -> None:
        if slot < len(self.model.records):
            action(self.model.records[slot].job_id)

    # -- what the buttons and code call ------------------------------------------------
    def refresh(self, *, balance: bool = True) -> None:
        """Reload the balance from `/me` (unless `balance=False`) and the rows from the history, then redraw."""
        with self._lock:
            if balance:
                self.model.load_balance()
            self.model.load_rows()
            self._redraw()

    def set_status(self, status: str) -> None:
        """Show only jobs with this status (`all` for every job); back to the first page."""
        with self._lock:
            self.model.set_status(status)
            if self._filter.value != status:
                self._filter.value = status  # re-enters set_status through the observer: harmless
            self._redraw()

    def page(self, number: int) -> None:
        """Go to page `number` (0 = newest jobs); clamped to the pages that exist."""
        with self._lock:
            self.model.go_to(number)
            self._redraw()

    def select(self, job_id: str) -> None:
        """Show the job's player (from its saved local media) inside the panel."""
        with self._lock:
            bundle = self.model.select(job_id)
            if bundle is not None:
                self._player.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)
            elif self.model.selected is None:
                self._player.outputs = ()
            self._redraw()

    def repoll(self, job_id: str) -> None:
        """Ask the job's backend for its state now; a finished job gets its media saved, like a render."""
        with self._lock:
            self.model.repoll(job_id)
            self.model.load_balance()  # a job that settled moved the balance
            self._redraw()

    # -- following job changes -----------------------------------------------------------
    def _on_progress(self, progress: Any) -> None:
        """A job of this process changed state: refresh soon, off the render's path.

        Called on the render's thread: a refresh (a `/me` request and the history's queries) must not
        hold the render up, so changes within `REFRESH_DELAY` are coalesced into one refresh on a
        timer thread. The balance moves only when a job is accepted or settles.
        """
        with self._pending_lock:
            self._pending_balance |= progress.state in (QUEUED, *TERMINAL_STATUSES)
            if self._pending is None:
                self._pending = threading.Timer(REFRESH_DELAY, self._refresh_pending)
                self._pending.daemon = True
                self._pending.start()

    def _refresh_pending(self) -> None:
        with self._pending_lock:
            balance, self._pending_balance, self._pending = self._pending_balance, False, None
        self.refresh(balance=balance)

    def stop_following(self) -> None:
        """Stop refreshing on job changes (the widgets stay as they are)."""
        self._unsubscribe()
        with self._pending_lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()

    def release(self) -> None:
        """Stop following job changes and close the HTTP client; the widgets stay as they are
        (a re-run `%kodisc_panel` leaves the old output showing its last state)."""
        self.stop_following()
        self.model.close()

    def close(self) -> None:
        """Stop following job changes and close the widgets and the client."""
        self.release()
        _close_tree(self.widget)

    # -- drawing -------------------------------------------------------------------------
    def _redraw(self) -> None:
        model = self.model
        self._account_html.value = f"<b>{escaped(model.backend.label)}</b> · {escaped(model.where())}"
        self._balance_html.value = escaped(model.account_line())
        self._spending_html.value = spending_html(model.spent)
        self._page_label.value = escaped(model.page_caption())
        self._prev_button.disabled = model.page == 0
        self._next_button.disabled = model.offset + model.page_size >= model.total
        shown = len(model.records)
        for slot, (row, cells, show, repoll) in enumerate(self._rows):
            if slot >= shown:
                row.layout.display = "none"
                continue
            record = model.records[slot]
            img, short = thumb_and_id_html(record.job_id, model.thumbnail(record))
            cells.value = _grid([img, short, *(escaped(v) for v in row_cells(record)[1:])])
            pending = record.status in PENDING_STATUSES
            show.description, show.icon = ("Error", "info") if record.status == FAILED else ("Play", "play")
            show.layout.display = "none" if pending else None
            repoll.layout.display = None if pending else "none"
            row.layout.display = None
            (row.add_class if record.job_id == model.selected else row.remove_class)("kodisc-selected")
        self._message_html.value = escaped(model.message)
        bundle = self._bundle()
        if self._displayed:
            from IPython.display import update_display

            update_display(bundle, raw=True, display_id=self._display_id)
        self._shown_text = bundle["text/plain"]  # only once published: repr() never runs ahead of the output

    def _snapshot_text(self) -> str:
        return self.model.text()

    def _snapshot_html(self) -> str:
        return self.model.html()

    def _bundle(self) -> dict[str, Any]:
        return {
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2, "version_minor": 0, "model_id": self.widget.model_id},
            "text/html": self._snapshot_html(),
            "text/plain": self._snapshot_text(),
        }

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if not self._displayed and self.model.account is None and not self.model.balance_error:
            with self._lock:
                self.model.load_balance()
                self._redraw()
        display(self._bundle(), raw=True, display_id=self._display_id)
        self._displayed = True

    def __repr__(self) -> str:
        """The text snapshot last shown (what an exported notebook will say)."""
        return self._shown_text

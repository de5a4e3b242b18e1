"""The account panel: balance from `/me` and past jobs from the history, as one ipywidgets view.

The Kodisc API cannot list jobs, so the table is the local history (`kodisc_jupyter.history`).
Every display of the panel is a mimebundle whose `text/html` and `text/plain` are snapshots of
what the widgets show, updated after each refresh, so an exported or untrusted notebook still
shows the balance and the table as they were.

The HTML helpers (`jobs_html`, `spending_html`, ...) are pure and import no widgets; the text views
they share with `%kodisc_jobs`, `%kodisc_credits` and the `kodisc` command line live in
`kodisc_jupyter.views`.
"""
from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from ..contract._errors import KodiscError, RenderFailedError
from ..contract._rules import FAILED, PENDING_STATUSES, QUEUED, TERMINAL_STATUSES
from ..rendering.assets import vtt_has_cues
from ..rendering.backend import resolve_backend
from ..rendering.pipeline import history as shared_history
from ..rendering.pipeline import resume, resume_flow, subscribe
from ..rendering.views import (
    COLUMNS,
    STATUS_CHOICES,
    balance_line,
    empty_message,
    format_credits,
    format_duration,
    jobs_text,
    page_caption,
    row_cells,
    short_id,
    spending,
    spending_text,
)
from .player import PLAYER_MIME, data_url, player_data, player_html, player_text

_THUMB_WIDTH = 96
_THUMB_MAX_BYTES = 48 * 1024
_PLAYER_MAX_BYTES = 20 * 1024 * 1024  # larger videos are not pushed through the widget channel
# A live widget is never sanitized, so the player's "captions are off (untrusted)" line, which a
# script removes in trusted outputs, would be wrong here; widget HTML runs no scripts: hide it by CSS.
_PLAYER_STYLE = "<style>.kodisc-panel-player .kodisc-untrusted-hint{display:none}</style>"
# With the table: the row that is playing stands out.
_ROW_STYLE = "<style>.kodisc-job-row.kodisc-selected{background:rgba(33,150,243,0.12);border-radius:4px}</style>"


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _thumb_and_id_html(job_id: str, thumbnail: str | None) -> tuple[str, str]:
    """A row's first two cells: a fixed-size thumbnail (portrait ones letterboxed) and the short job
    id that status lines and summaries show, with the full id on hover."""
    img = (f'<img src="{_e(thumbnail)}" alt="" style="width:64px;height:36px;object-fit:contain;'
           f'background:#000">' if thumbnail else "")
    return img, f'<code title="{_e(job_id)}">{_e(short_id(job_id))}</code>'


def jobs_html(records: Sequence[Any], *, total: int | None = None, offset: int = 0,
              thumbnails: dict[str, str] | None = None, status: str | None = None) -> str:
    """The history rows as an HTML table (class `kodisc-jobs-table`), every string escaped."""
    if not records:
        return f'<p class="kodisc-jobs-empty">{_e(empty_message(status))}</p>'
    thumbnails = thumbnails or {}
    head = "".join(f"<th>{_e(c)}</th>" for c in ("", *COLUMNS))
    body = []
    for record in records:
        cells = row_cells(record)
        img, short = _thumb_and_id_html(record.job_id, thumbnails.get(record.job_id))
        tail = "".join(f"<td>{_e(c)}</td>" for c in cells[1:])
        body.append(f'<tr class="kodisc-job kodisc-status-{_e(record.status)}" data-job-id="{_e(record.job_id)}">'
                    f"<td>{img}</td><td>{short}</td>{tail}</tr>")
    caption = _e(page_caption(len(records), total, offset))
    return (f'<table class="kodisc-jobs-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody><caption style="caption-side:bottom">{caption}</caption></table>')


def spending_html(spent: dict[str, Any]) -> str:
    top = max((v for _, v in spent["days"]), default=0) or 1
    bars = "".join(
        f'<span title="{_e(day)}: {_e(format_credits(value))}" style="display:inline-block;width:10px;'
        f'margin-right:2px;vertical-align:bottom;background:#4c78a8;height:{max(1, round(24 * value / top))}px">'
        f"</span>" for day, value in spent["days"])
    return (f'<div class="kodisc-spending"><span style="display:inline-block;height:24px;margin-right:8px">{bars}</span>'
            f"{_e(spending_text(spent))}</div>")


def thumbnail_data_url(path: str | Path | None) -> str | None:
    """A small `data:image/jpeg` URL for a local thumbnail (never a server URL, which may die)."""
    if not path or not Path(path).is_file():
        return None
    try:
        from io import BytesIO

        from PIL import Image

        with Image.open(path) as image:
            image.thumbnail((_THUMB_WIDTH, _THUMB_WIDTH))
            buffer = BytesIO()
            image.convert("RGB").save(buffer, format="JPEG", quality=70)
        data = buffer.getvalue()
    except ImportError:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if len(data) > _THUMB_MAX_BYTES:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def _player(record: Any) -> dict[str, Any]:
    """The job's player bundle from its saved files, all as data: URLs (a widget has no folder to resolve
    paths): our renderer's JSON first, the HTML player and its text beside it."""

    thumbnail, captions = record.thumbnail_path, record.captions_path
    vtt = captions.read_text(encoding="utf-8") if captions and captions.is_file() else None
    sources: dict[str, Any] = {
        "video_src": data_url(Path(record.video_path).read_bytes(), "video/mp4"),
        "poster_src": data_url(thumbnail.read_bytes(), "image/jpeg") if thumbnail and thumbnail.is_file() else None,
        "title": f"{record.class_name} · job {record.job_id}",
        "summary": (f"{record.class_name} · job {short_id(record.job_id)} · {format_duration(record.duration_ms)} · "
                    f"{format_credits(record.credits_cost)} credit{'' if record.credits_cost == 1 else 's'}"),
    }
    has_cues = bool(vtt) and vtt_has_cues(vtt or "")
    track = data_url((vtt or "").encode("utf-8"), "text/vtt") if has_cues else None
    return {PLAYER_MIME: player_data(captions_src=track, **sources),
            "text/html": _PLAYER_STYLE + player_html(captions_vtt=vtt, **sources),
            "text/plain": player_text(title=sources["title"], summary=sources["summary"])}


def _close_tree(widget: Any) -> None:
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    widget.close()


REFRESH_DELAY = 0.2  # seconds: job changes within it make one refresh

class Panel:
    """Balance and past jobs, refreshing itself when a job of this kernel changes state.

    `Panel(backend="auto", page_size=10)`; display it (last expression of a cell or
    `display(panel)`). `refresh()`, `select(job_id)`, `repoll(job_id)`, `set_status(status)`,
    `page(n)` drive it from code; the buttons call the same methods.
    """

    def __init__(self, backend: Any = "auto", *, history: Any = None, page_size: int = 10) -> None:
        import ipywidgets as w


        if page_size < 1:
            raise ValueError(f"page_size must be at least 1; got {page_size}.")
        self._backend = resolve_backend(backend) if isinstance(backend, str) else backend
        self._client = self._backend.client()
        self._history = history if history is not None else shared_history()
        self._page_size = page_size
        self._page = 0
        self._status = "all"
        self._selected: str | None = None
        self._records: list[Any] = []
        self._total = 0
        self._account: Any = None
        self._message = ""  # the outcome of the last action (select, re-poll)
        self._balance_error = ""
        self._spent: dict[str, Any] = {}
        self._thumbs: dict[tuple[str, float], str | None] = {}
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
        self._table_header = w.HTML(_ROW_STYLE + self._grid(["", *COLUMNS], header=True))
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
        self._prev_button.on_click(lambda _: self.page(self._page - 1))
        self._next_button.on_click(lambda _: self.page(self._page + 1))
        self._filter.observe(lambda change: self.set_status(change["new"]), names="value")

        self._unsubscribe = subscribe(self._on_progress)
        self.refresh()

    # -- layout --------------------------------------------------------------------------
    @staticmethod
    def _grid(cells: Iterable[str], *, header: bool = False) -> str:
        weight = "font-weight:600;" if header else ""
        inner = "".join(f"<div style='overflow:hidden;text-overflow:ellipsis;white-space:nowrap'>{c}</div>"
                        for c in (cells if not header else (_e(c) for c in cells)))
        return (f"<div style='display:grid;{weight}grid-template-columns:72px 6em 10em 5em 6em 5em 6em 11em;"
                f"gap:6px;align-items:center'>{inner}</div>")

    def _make_row(self, w: Any, slot: int) -> tuple[Any, Any, Any, Any]:
        cells = w.HTML(layout=w.Layout(width="auto")).add_class("kodisc-job-cells")
        show = w.Button(description="Play", icon="play", layout=w.Layout(width="6em")).add_class("kodisc-select")
        repoll = w.Button(description="Re-poll", icon="refresh", layout=w.Layout(width="7em")).add_class("kodisc-repoll")
        row = w.HBox([cells, show, repoll], layout=w.Layout(display="none")).add_class("kodisc-job-row")
        show.on_click(lambda _, i=slot: self._row_action(i, self.select))
        repoll.on_click(lambda _, i=slot: self._row_action(i, self.repoll))
        return row, cells, show, repoll

    def _row_action(self, slot: int, action: Any) -> None:
        if slot < len(self._records):
            action(self._records[slot].job_id)

    # -- data ----------------------------------------------------------------------------
    def refresh(self, *, balance: bool = True) -> None:
        """Reload the balance from `/me` (unless `balance=False`) and the rows from the history, then redraw."""
        with self._lock:
            if balance:
                try:
                    self._account = self._client.me()
                    self._balance_error = ""
                except KodiscError as exc:
                    self._balance_error = f"Balance unavailable: {exc}"
            self._reload_rows()
            self._redraw()

    def _reload_rows(self) -> None:
        status = None if self._status == "all" else self._status
        self._total = self._history.count(status)
        last_page = max(0, (self._total - 1) // self._page_size)
        self._page = min(self._page, last_page)
        self._records = self._history.list(limit=self._page_size, offset=self._page * self._page_size, status=status)

    def set_status(self, status: str) -> None:
        """Show only jobs with this status (`all` for every job); back to the first page."""
        if status not in STATUS_CHOICES:
            raise ValueError(f"status must be one of {', '.join(STATUS_CHOICES)}; got {status!r}.")
        with self._lock:
            self._status, self._page = status, 0
            if self._filter.value != status:
                self._filter.value = status  # re-enters set_status through the observer: harmless
            self._reload_rows()
            self._redraw()

    def page(self, number: int) -> None:
        """Go to page `number` (0 = newest jobs); clamped to the pages that exist."""
        with self._lock:
            self._page = max(0, number)
            self._reload_rows()
            self._redraw()

    def select(self, job_id: str) -> None:
        """Show the job's player (from its saved local media) inside the panel."""
        with self._lock:
            record = self._history.get(job_id)
            if record is None:
                self._message = f"Job {job_id} is not in the history."
            elif not record.video_path or not Path(record.video_path).is_file():
                reason = f"failed: {record.error or 'no reason given'}" if record.status == FAILED else record.status
                self._message = f"Job {job_id} has no saved video ({reason})."
                self._selected = None
                self._player.outputs = ()
            elif Path(record.video_path).stat().st_size > _PLAYER_MAX_BYTES:
                self._message = (f"Job {job_id}'s video is too large to play inside the panel; "
                                 f"show it with %kodisc_resume {job_id}")  # no private path in a saved snapshot
            else:
                self._selected = job_id
                self._message = ""
                self._player.outputs = ({"output_type": "display_data", "data": _player(record), "metadata": {}},)
            self._redraw()

    def repoll(self, job_id: str) -> None:
        """Ask the job's backend for its state now; a finished job gets its media saved, like a render."""
        with self._lock:
            record = self._history.get(job_id)
            if record is None:
                self._message = f"Job {job_id} is not in the history."
                self._redraw()
                return
            try:
                flow = resume_flow(job_id, history=self._history)
                resume(flow, wait_for_end=False)
                assert flow.job is not None
                self._message = f"Job {job_id} is {flow.job.status}."
            except RenderFailedError as exc:
                self._message = f"Job {job_id} failed: {exc.job.error or 'no reason given'}"
            except KodiscError as exc:
                self._message = f"Could not re-poll {job_id}: {exc}"
            self.refresh()

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

    def close(self) -> None:
        """Stop following job changes and close the widgets and the client."""
        self.stop_following()
        _close_tree(self.widget)
        self._client.close()

    # -- views ---------------------------------------------------------------------------
    def _thumbnail(self, record: Any) -> str | None:
        path = record.thumbnail_path
        if not path or not Path(path).is_file():
            return None
        key = (str(path), Path(path).stat().st_mtime)
        if key not in self._thumbs:
            self._thumbs[key] = thumbnail_data_url(path)
        return self._thumbs[key]

    def _account_line(self) -> str:
        if self._balance_error:
            return f"{self._backend.label} · {self._balance_error}"
        if self._account is None:
            return f"{self._backend.label} · balance unknown"
        return balance_line(self._account, self._backend.label)

    def _redraw(self) -> None:
        where = "the local Manim server" if self._backend.name == "local" else self._backend.base_url
        self._account_html.value = f"<b>{_e(self._backend.label)}</b> · {_e(where)}"
        self._balance_html.value = _e(self._account_line())
        self._spent = spending(self._history)
        self._spending_html.value = spending_html(self._spent)
        shown = len(self._records)
        self._page_label.value = _e(page_caption(shown, self._total, self._page * self._page_size))
        self._prev_button.disabled = self._page == 0
        self._next_button.disabled = (self._page + 1) * self._page_size >= self._total
        for slot, (row, cells, show, repoll) in enumerate(self._rows):
            if slot >= shown:
                row.layout.display = "none"
                continue
            record = self._records[slot]
            values = row_cells(record)
            img, short = _thumb_and_id_html(record.job_id, self._thumbnail(record))
            cells.value = self._grid([img, short, *(_e(v) for v in values[1:])])
            pending = record.status in PENDING_STATUSES
            show.description, show.icon = ("Error", "info") if record.status == FAILED else ("Play", "play")
            show.layout.display = "none" if pending else None
            repoll.layout.display = None if pending else "none"
            row.layout.display = None
            selected = record.job_id == self._selected
            (row.add_class if selected else row.remove_class)("kodisc-selected")
        self._message_html.value = _e(self._message)
        bundle = self._bundle()
        if self._displayed:
            from IPython.display import update_display

            update_display(bundle, raw=True, display_id=self._display_id)
        self._shown_text = bundle["text/plain"]  # only once published: repr() never runs ahead of the output

    def _snapshot_text(self) -> str:
        lines = [self._account_line(), spending_text(self._spent)]
        if self._status != "all":
            lines.append(f"Status filter: {self._status}")
        lines.append(jobs_text(self._records, total=self._total, offset=self._page * self._page_size,
                               status=self._status))
        if self._message:
            lines.append(self._message)
        return "\n".join(lines)

    def _snapshot_html(self) -> str:
        thumbs = {r.job_id: t for r in self._records if (t := self._thumbnail(r))}
        table = jobs_html(self._records, total=self._total, offset=self._page * self._page_size, thumbnails=thumbs,
                          status=self._status)
        status = f"<div>Status filter: {_e(self._status)}</div>" if self._status != "all" else ""
        message = f'<div class="kodisc-message">{_e(self._message)}</div>' if self._message else ""
        return (f'<div class="kodisc-panel"><div class="kodisc-balance">{_e(self._account_line())}</div>'
                f"{spending_html(self._spent)}{status}{table}{message}</div>")

    def _bundle(self) -> dict[str, Any]:
        return {
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2, "version_minor": 0, "model_id": self.widget.model_id},
            "text/html": self._snapshot_html(),
            "text/plain": self._snapshot_text(),
        }

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._bundle(), raw=True, display_id=self._display_id)
        self._displayed = True

    def __repr__(self) -> str:
        """The text snapshot last shown (what an exported notebook will say)."""
        return self._shown_text

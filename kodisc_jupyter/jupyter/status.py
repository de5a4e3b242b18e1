"""The live status bar of a render: state, elapsed time, progress, short job id, backend.

While the local server renders, the line also says how far it got ("animation 3 · 2.5 s of
video", from the job's extra `progress`) and, when the history knows how long the last render of
the same class took, an ETA.

In a notebook it is an ipywidgets row shown in a mimebundle that also carries `text/plain` and
`text/html` snapshots of the current state (like tqdm's notebook bar), so nbconvert, GitHub and a
notebook reopened without its widget state still show something true. The snapshots are
refreshed on each state change; the elapsed time and the bar tick every half second from one
shared daemon thread, because the kernel is blocked (or free, for `--no-wait`) meanwhile and
widget messages from another thread reach the browser either way. In terminal IPython the status
is one plain line per state change. Under a batch executor (nbclient, papermill, `nbconvert
--execute`) nobody watches the cell live and every widget it ever saw stays in the saved notebook's
widget state (nbclient ignores comm_close), so there the bar is its snapshots alone, no widget.
"""
from __future__ import annotations

import html
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from ..contract._rules import COMPLETED, PENDING_STATUSES, TERMINAL_STATUSES
from ..rendering.views import format_progress
from .frontend import frontend_has_widgets

if TYPE_CHECKING:
    from ..contract._models import RenderProgress
    from ..rendering.pipeline import Progress

__all__ = ["StatusBar"]

TICK_SECONDS = 0.5


def watched_live() -> bool:
    """False while a batch executor runs the cell. Such executors cannot answer `input()` and say so
    in the execute request (nbclient sends allow_stdin=False); JupyterLab, Notebook, VS Code and
    Colab allow it."""
    from IPython import get_ipython

    kernel = getattr(get_ipython(), "kernel", None)
    return bool(getattr(kernel, "_allow_stdin", True))


class StatusBar:
    """One render's status output; feed it `Progress` (it is a pipeline observer), then `replace()` it."""

    def __init__(self, class_name: str, backend_label: str, *, widgets: bool | None = None) -> None:
        self.class_name = class_name
        self.backend_label = backend_label
        self.state = ""  # nothing shown yet: the first Progress is a change
        self.job_id: str | None = None
        self.expected_seconds: float | None = None
        self.previous_seconds: float | None = None
        self.render_progress: RenderProgress | None = None  # the local server's, while running
        self.started = time.monotonic()
        self._widgets = frontend_has_widgets() if widgets is None else widgets
        self._handle: Any = None
        self._box: Any = None
        self._lock = threading.Lock()
        self._done = False
        self._shown = False

    # -- the observer ----------------------------------------------------------------------------

    def __call__(self, progress: Progress) -> None:
        with self._lock:  # the ticker thread and the --no-wait worker may both be here
            if self._done:
                return
            render_progress = progress.job.progress if progress.job is not None else None
            changed = (progress.state != self.state or progress.job_id != self.job_id
                       or render_progress != self.render_progress)
            self.state, self.started = progress.state, progress.started or self.started
            self.job_id = progress.job_id or self.job_id
            self.expected_seconds = progress.expected_seconds
            self.previous_seconds = progress.previous_seconds
            self.render_progress = render_progress
            if changed:
                self._refresh_snapshot()

    # -- showing ---------------------------------------------------------------------------------

    def show(self) -> StatusBar:
        """Display the bar (the magic does so on the first state, "submitting"); it ticks until `replace()`."""
        from IPython.display import display

        self._shown = True
        if not self._widgets:
            return self  # terminal: the observer prints one line per state
        if watched_live():
            self._box = self._build_widget()
            _ticker.add(self)
        self._handle = display(self._bundle(), raw=True, display_id=True)
        return self

    def replace(self, bundle: dict[str, Any]) -> None:
        """Put the final output (player, error block, notice) where the bar was; the bar stops."""
        with self._lock:
            self._done = True
        _ticker.discard(self)
        if self._handle is not None:
            self._handle.update(bundle, raw=True)
            if self._box is not None:  # the final output has no widget: free the comms
                for widget in (*self._box.children, self._box):
                    widget.close()
        else:
            from IPython.display import display

            display(bundle, raw=True)

    @property
    def shown(self) -> bool:
        return self._shown

    # -- text, HTML and widget views of the same state ------------------------------------------

    def fraction(self) -> float | None:
        """Estimated progress in [0, 0.95], or None when there is no estimate (indeterminate)."""
        if self.state in TERMINAL_STATUSES:
            return 1.0
        expected = self.previous_seconds or self.expected_seconds  # this class's last render, when known
        if not expected or self.state not in PENDING_STATUSES:
            return None
        return min(self.elapsed() / expected, 0.95)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def text(self) -> str:
        return "Kodisc · " + format_progress(
            class_name=self.class_name, state=self.state, elapsed=self.elapsed(), job_id=self.job_id,
            backend=self.backend_label, render_progress=self.render_progress,
            previous_seconds=self.previous_seconds, expected_seconds=self.expected_seconds)

    def html(self) -> str:
        fraction = self.fraction()
        bar = "<progress></progress>" if fraction is None else f'<progress max="1" value="{fraction:.2f}"></progress>'
        return (f'<div class="kodisc-status-snapshot" data-state="{html.escape(self.state, quote=True)}">'
                f"{bar} <span>{html.escape(self.text(), quote=True)}</span></div>")

    def _bundle(self) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": self.text(), "text/html": self.html()}
        if self._box is not None:
            bundle["application/vnd.jupyter.widget-view+json"] = {
                "version_major": 2, "version_minor": 0, "model_id": self._box.model_id}
        return bundle

    def _build_widget(self) -> Any:
        import ipywidgets as widgets

        self._state_label = widgets.Label(self.state).add_class("kodisc-state")
        self._bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0,
                                          layout=widgets.Layout(width="12em")).add_class("kodisc-progress")
        self._detail = widgets.Label("").add_class("kodisc-detail")
        box = widgets.HBox([self._state_label, self._bar, self._detail]).add_class("kodisc-status")
        self._set_widget_values()
        return box

    def _set_widget_values(self) -> None:
        self._state_label.value = f"{self.class_name}: {self.state}"
        fraction = self.fraction()
        if fraction is None:  # indeterminate: a pulse that sweeps the bar every two seconds
            self._bar.bar_style = "info"
            self._bar.value = (self.elapsed() / 2.0) % 1.0
        else:
            self._bar.bar_style = "success" if self.state == COMPLETED else ""
            self._bar.value = fraction
        self._detail.value = " · ".join(self.text().split(" · ")[2:])

    def _refresh_snapshot(self) -> None:
        if not self._widgets:
            self._print_line()
        elif self._handle is not None:
            if self._box is not None:
                self._set_widget_values()
            self._handle.update(self._bundle(), raw=True)

    def _tick(self) -> None:
        with self._lock:
            if self._done:
                return
            self._set_widget_values()

    def _print_line(self) -> None:
        print(self.text(), flush=True)


class _Ticker:
    """One daemon thread that advances every live bar's clock and progress every TICK_SECONDS."""

    def __init__(self) -> None:
        self._bars: weakref.WeakSet[StatusBar] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, bar: StatusBar) -> None:
        with self._lock:
            self._bars.add(bar)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="kodisc-status-ticker", daemon=True)
                self._thread.start()

    def discard(self, bar: StatusBar) -> None:
        with self._lock:
            self._bars.discard(bar)

    def _run(self) -> None:
        while True:
            time.sleep(TICK_SECONDS)
            with self._lock:
                bars = list(self._bars)
                if not bars:
                    self._thread = None
                    return
            for bar in bars:
                try:
                    bar._tick()
                except Exception:  # a closed comm after a kernel shutdown: drop the bar
                    self.discard(bar)


_ticker = _Ticker()

"""The process's render session: the embedded local server, the background worker, the history and
the observers of every job, with one lifetime.

It opens on first use (a render, a panel, a command) and closes at exit or at `%unload_ext`.
The one module-level value is the current session itself (`current()`); everything else that
lives as long as the process (the embedded server, the worker, the history, the observers, the
notices said once) is an attribute of it, so closing it ends them all.
"""
from __future__ import annotations

import atexit
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._logging import get_logger
from .._paths import data_dir

if TYPE_CHECKING:
    from ..server import LocalServer
    from ..server._process import RenderProcess
    from .history import History
    from .worker import Worker

__all__ = ["Session", "current", "close_current"]

logger = get_logger("kodisc_jupyter.session")
Observer = Callable[[Any], None]


class Session:
    """What every render of this process shares; each part starts on first use."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._history: History | None = None
        self._server: LocalServer | None = None
        self._prestarted: RenderProcess | None = None
        self._scene_files: Path | None = None
        self._worker: Worker | None = None
        self._observers: list[Observer] = []
        self._said: set[str] = set()

    def history(self) -> History:
        """The job history (one object: it keeps one SQLite connection per thread); follows KODISC_HOME."""
        from .history import History

        path = data_dir() / "history.sqlite3"
        with self._lock:
            if self._history is None or self._history.path != path:
                self._history = History(path)
            return self._history

    def local_server(self) -> LocalServer:
        """The embedded local Kodisc, started on first use (its data outlives it: restarts keep jobs)."""
        with self._lock:
            if self._server is None:
                from ..server import start_local_server

                prestarted, self._prestarted = self._prestarted, None
                self._server = start_local_server(data_dir() / "server", prestarted=prestarted,
                                                  scene_files=self._files_folder())
            return self._server

    def scene_files(self) -> tuple[Path | None, str | None]:
        """The folder the embedded server's renders read: the running server's, else the one it would start
        with; or None and why not (that folder holds the home)."""
        from ..server._process import scene_files

        with self._lock:
            if self._server is not None:
                return self._server.scene_files, self._server.scene_files_problem
            return scene_files(self._files_folder())

    def use_scene_files(self, folder: Path) -> None:
        """The folder whose files the embedded server's renders read (`ImageMobject("diagram.png")`), from its
        next start: `kodisc render FILE.py` gives FILE's; by default it is the working directory at the
        start, which in a kernel is its notebook's."""
        with self._lock:
            self._scene_files = Path(folder).resolve()

    def _files_folder(self) -> Path:
        return self._scene_files or Path.cwd()

    def prestart_local_server(self) -> None:
        """Start the embedded server's first render worker now, before the server: a one-shot command
        that will render locally calls this before loading anything else, so that Manim's import (about
        a second, in the worker) overlaps the command's own start. Nothing is started without bwrap."""
        from ..server._process import prestart

        with self._lock:
            if self._server is None and self._prestarted is None:
                try:
                    self._prestarted = prestart(data_dir() / "server", self._files_folder())
                except OSError:  # a full temp dir, no fork: only the head start is lost (the server says why)
                    logger.debug("no head start for the local server", exc_info=True)

    def stop_local_server(self, *, wait: bool = True) -> None:
        """Stop the embedded server if it runs, or its pre-started worker (the next local render starts it again);
        `wait=False` when the process exits next (see `LocalServer.stop`)."""
        with self._lock:
            server, self._server = self._server, None
            prestarted, self._prestarted = self._prestarted, None
        if prestarted is not None:  # never adopted: the render was cached, or failed before it started the server
            prestarted.end_now()
        if server is not None:
            server.stop(wait=wait)

    def worker(self) -> Worker:
        """The thread with its own event loop that follows `--no-wait` jobs, started on first use."""
        from .worker import Worker

        with self._lock:
            if self._worker is None or not self._worker.alive:
                self._worker = Worker()
            return self._worker

    def first_time(self, notice: str) -> bool:
        """True once per session for each `notice` (a hint said once per kernel, not on every render)."""
        with self._lock:
            if notice in self._said:
                return False
            self._said.add(notice)
            return True

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Call `observer(progress)` on every state change of any job; returns the unsubscribe."""
        with self._lock:
            self._observers.append(observer)

        def unsubscribe() -> None:
            with self._lock:
                if observer in self._observers:
                    self._observers.remove(observer)

        return unsubscribe

    def publish(self, progress: Any, observers: Sequence[Observer] = ()) -> None:
        """Tell the flow's own observers, then every subscriber; an observer's bug never breaks a render."""
        with self._lock:
            everyone = [*observers, *self._observers]
        for observer in everyone:
            try:
                observer(progress)
            except Exception:
                logger.exception("A kodisc job observer failed")

    def close(self) -> None:
        """Stop following `--no-wait` jobs (they go on), stop the embedded server, close the history."""
        with self._lock:
            worker, self._worker = self._worker, None
            history, self._history = self._history, None
            self._observers.clear()
        if worker is not None:
            worker.stop()
        self.stop_local_server()
        if history is not None:
            history.close()


_current: Session | None = None
_current_lock = threading.Lock()
_atexit_registered = False


def current() -> Session:
    """This process's session, opened on first use (and closed at exit if nothing closes it before)."""
    global _current, _atexit_registered
    with _current_lock:
        if _current is None:
            _current = Session()
            if not _atexit_registered:
                atexit.register(close_current)
                _atexit_registered = True
        return _current


def close_current() -> None:
    """Close the session (`%unload_ext`, exit); the next use opens a new one."""
    global _current
    with _current_lock:
        session, _current = _current, None
    if session is not None:
        session.close()

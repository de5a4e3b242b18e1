"""One background thread with its own asyncio loop, shared by every `--no-wait` job of the kernel.

The kernel's own loop is not used: tasks on it get no time while a later cell blocks (and Colab
never runs them). A plain thread with a private loop keeps polling whatever the kernel does, and
display handles may be updated from it. `stop()` (the session's close, e.g. `%unload_ext`) cancels what is left.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from .._logging import get_logger

__all__ = ["Worker"]

logger = get_logger("kodisc_jupyter.worker")


class Worker:
    """A daemon thread running an event loop; `submit()` schedules a coroutine on it from any thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="kodisc-no-wait-worker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._loop.is_closed()

    def submit(self, make: Callable[[], Awaitable[Any]]) -> concurrent.futures.Future[Any]:
        """Run the coroutine `make()` on the worker's loop; the returned future resolves with its result.

        The task starts in an empty context, not the submitting cell's: ipykernel keeps the parent
        header in a context variable, and output sent from the worker must go to whichever cell
        runs at that moment (as other threads' output does), not to the long-finished cell.
        """
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        async def run() -> None:
            try:
                future.set_result(await make())
            except asyncio.CancelledError:
                future.cancel()
            except BaseException as exc:
                logger.exception("A --no-wait job watcher failed")
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(self._loop.create_task, run(), context=contextvars.Context())
        return future

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel the jobs still watched (the jobs themselves go on) and end the thread."""
        if not self.alive:
            return
        asyncio.run_coroutine_threadsafe(_cancel_all(), self._loop).result(timeout=timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()


async def _cancel_all() -> None:
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

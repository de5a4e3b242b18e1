"""Which queued job renders next: in turn between users, never more than `per_user` of one user's at once.

A shared server's workers are its scarce part. Taking jobs in submission order lets one user who
queues many (or a few that sleep until their timeout) hold every worker while everyone else
waits; so each user's jobs wait in their own line, the next worker goes to the user served least
recently among those below their cap (one never served first), and a user at the cap waits even
when a worker is idle.

This object owns worker accounting for the server (`JobRunner` asks it, nothing else counts):
`take()` hands out a job and a worker, `done()` gives the worker back, and a running render that
could use more workers (a render split across workers) asks `spare()` how many are idle and not
wanted by any queued job, `borrow()`s them and `give_back()`s them when its part ends.
"""
from __future__ import annotations

import asyncio
from collections import deque


class FairQueue:
    """`per_user` None: every worker while only `first_user` has queued work since start (one person's own
    server renders their cells side by side), all workers but one (at least one) from the first job of any
    other user on: one user never holds every worker, whoever they are and whenever others come."""

    def __init__(self, workers: int, per_user: int | None = None, *, first_user: str | None = None) -> None:
        self.workers = workers
        self.per_user = per_user if per_user is not None else workers
        self._shared = per_user is None  # the cap narrows once another user queues work
        self._first_user = first_user
        self._lines: dict[str, deque[str]] = {}  # user -> their queued job ids, in submission order
        #: user -> when they were last handed a worker (a count of hand-outs); never: before everyone
        self._served: dict[str, int] = {}
        self._handed = 0
        self._running: dict[str, int] = {}  # user -> renders running (each holds one worker)
        self._borrowed = 0  # workers lent to running renders beyond their own
        self._waiters: list[asyncio.Future[None]] = []  # take()s waiting for a change

    # the job runner's side -------------------------------------------------------------------
    def put(self, job_id: str, user_id: str) -> None:
        """Queue `job_id` behind `user_id`'s other queued jobs (a new user joins the end of the turn)."""
        if self._shared and user_id != self._first_user:
            self.per_user, self._shared = max(1, self.workers - 1), False
        self._lines.setdefault(user_id, deque()).append(job_id)
        self._wake()

    async def take(self) -> tuple[str, str]:
        """The next (job id, user id) to render, once a worker is idle and some user below the cap has a job."""
        while (picked := self._pick()) is None:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                self._waiters.remove(waiter)
        return picked

    def done(self, user_id: str) -> None:
        """A render `take()` handed out ended: its worker is idle again."""
        left = self._running.get(user_id, 0) - 1
        if left > 0:
            self._running[user_id] = left
        else:
            self._running.pop(user_id, None)
        self._wake()

    # for a render that could use more workers ------------------------------------------------
    def idle(self) -> int:
        """Workers not rendering (and not lent out)."""
        return self.workers - sum(self._running.values()) - self._borrowed

    def wanted(self) -> int:
        """Idle workers queued jobs could start on now: each user below the cap wants one per queued job."""
        return sum(min(len(line), max(0, self.per_user - self._running.get(user, 0)))
                   for user, line in self._lines.items())

    def spare(self) -> int:
        """Idle workers that no queued job of any user can use now: what a running render may borrow."""
        return max(0, self.idle() - self.wanted())

    def borrow(self, count: int) -> int:
        """Take up to `count` spare workers (how many were taken); return them with `give_back()`."""
        taken = max(0, min(count, self.spare()))
        self._borrowed += taken
        return taken

    def give_back(self, count: int) -> None:
        self._borrowed = max(0, self._borrowed - count)
        self._wake()

    # ----------------------------------------------------------------------------------------
    def _pick(self) -> tuple[str, str] | None:
        if self.idle() <= 0:
            return None
        ready = [user for user in self._lines if self._running.get(user, 0) < self.per_user]
        if not ready:
            return None
        user_id = min(ready, key=lambda user: self._served.get(user, -1))  # served least recently; ties: first queued
        line = self._lines[user_id]
        job_id = line.popleft()
        if not line:
            del self._lines[user_id]
        self._running[user_id] = self._running.get(user_id, 0) + 1
        self._handed += 1
        self._served[user_id] = self._handed
        return job_id, user_id

    def _wake(self) -> None:
        """Let waiting `take()`s look again."""
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

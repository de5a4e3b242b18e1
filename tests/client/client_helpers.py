"""Helpers for the client's unit tests: a virtual clock, a recording mock transport, contract
bodies, and a blocking facade over AsyncKodisc (see conftest.py's `make_client`)."""
from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from kodisc_jupyter import AsyncKodisc

KEY = "kdsc_live_9c1d" + "0123456789abcdef" * 2 + "fedcba9876543210"[:12]
BASE_URL = "https://kodisc.test/api/v2"
assert len(KEY) == 58


def job_body(job_id: str = "clx9f0a1b0000abcd1234efgh", status: str = "queued", **fields: Any) -> dict[str, Any]:
    """A full GET /render/{jobId} body as the contract describes it."""
    terminal = status in ("completed", "failed")
    body = {
        "jobId": job_id, "endpoint": "render", "status": status,
        "creditsCost": 1.25 if terminal else 0, "durationMs": 4200 if terminal else None,
        "result": {"video": "https://cdn.kodisc.test/v.mp4", "thumbnail": "https://cdn.kodisc.test/t.jpg",
                   "captions": "https://cdn.kodisc.test/c.vtt"} if status == "completed" else None,
        "error": "NameError: name 'Circel' is not defined" if status == "failed" else None,
        "metadata": None, "createdAt": "2026-04-28T17:14:02.118Z",
        "completedAt": "2026-04-28T17:14:06.318Z" if terminal else None,
    }
    body.update(fields)
    return body


@dataclass
class VirtualClock:
    """Monotonic time that only moves when the client sleeps."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


@dataclass
class Recorder:
    """Wraps a handler; remembers every request the client sent (and its body)."""

    handler: Callable[[httpx.Request], httpx.Response]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]

    def count(self, method: str | None = None) -> int:
        return sum(1 for r in self.requests if method is None or r.method == method)


def sequence(*answers: Any) -> Callable[[httpx.Request], httpx.Response]:
    """A handler giving each answer in turn (the last repeats); an exception instance is raised."""
    state = {"i": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers[min(state["i"], len(answers) - 1)]
        state["i"] += 1
        if isinstance(answer, BaseException):
            raise answer
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)  # fresh stream

    return handler


class SyncFacade:
    """Calls the async client's coroutines to completion, so one test body drives both clients."""

    def __init__(self, client: AsyncKodisc, loop: asyncio.AbstractEventLoop) -> None:
        self._client, self._loop = client, loop

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._loop.run_until_complete(attribute(*args, **kwargs))

        return call

    def __repr__(self) -> str:
        return repr(self._client)



"""Injected faults for testing clients over real HTTP (all off by default). API routes only, never assets.

For each `/api/` request, in this order:
- latency: sleep a uniform random time in `latency = (low, high)` seconds;
- drop: with probability `drop_rate`, read the request and close the connection without answering,
  before the request is handled (so a dropped POST created no job);
- 5xx: with probability `error_rate`, answer 500, 502 or 503 (503 always with `Retry-After: 1`)
  without handling the request (so no job either);
- drop after create: with probability `drop_after_create_rate`, a POST /render that created its
  job (202) has its connection closed instead of answered: the "a job may exist" case.
"""
from __future__ import annotations

import asyncio
import json
import random

FAULT_STATUSES = (500, 502, 503)


class FaultInjector:
    """ASGI middleware; must wrap the app directly under uvicorn (it aborts uvicorn's transport to drop)."""

    def __init__(self, app, *, error_rate: float = 0.0, drop_rate: float = 0.0, drop_after_create_rate: float = 0.0,
                 latency: tuple[float, float] = (0.0, 0.0), seed: int | None = None) -> None:
        self.app = app
        self.error_rate, self.drop_rate, self.drop_after_create_rate = error_rate, drop_rate, drop_after_create_rate
        self.latency = latency
        self._random = random.Random(seed)

    @property
    def active(self) -> bool:
        return bool(self.error_rate or self.drop_rate or self.drop_after_create_rate or max(self.latency) > 0)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/") or not self.active:
            return await self.app(scope, receive, send)
        low, high = self.latency
        if high > 0:
            await asyncio.sleep(self._random.uniform(low, high))
        if self._random.random() < self.drop_rate:
            await _read_request_body(receive)
            return await _drop(send)
        if self._random.random() < self.error_rate:
            return await _answer_5xx(send, self._random.choice(FAULT_STATUSES))
        if scope["method"] == "POST" and self.drop_after_create_rate and \
                self._random.random() < self.drop_after_create_rate:
            return await self.app(scope, receive, _dropping_send(send))
        return await self.app(scope, receive, send)


async def _answer_5xx(send, status: int) -> None:
    body = json.dumps({"error": "server_error", "message": f"Injected fault ({status}): retry."}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 503:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_request_body(receive) -> None:
    """Take the whole body first: a socket closed with unread bytes sends a reset, not an end of stream,
    and the client's error would then depend on whether the body arrived before or after the drop."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


async def _drop(send) -> None:
    """Close the socket with no answer (uvicorn's `send` is a bound method of its request cycle)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("fault injection can only drop connections under uvicorn")
    transport.abort()
    await asyncio.sleep(0)  # let uvicorn see the disconnect, so it does not answer 500 itself


def _dropping_send(send):
    """A `send` that drops the connection instead of answering 202 (the job was created); other answers pass."""
    dropping = False

    async def maybe_drop(message) -> None:
        nonlocal dropping
        if message["type"] == "http.response.start" and message["status"] == 202:
            dropping = True
            await _drop(send)
        elif not dropping:
            await send(message)

    return maybe_drop

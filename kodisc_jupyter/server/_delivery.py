"""Webhook delivery: one signed POST per terminal transition, retried on the contract's schedule.

A delivery counts when the receiver answers 2xx within `answer_timeout` seconds; otherwise it is
retried `retry_delays` seconds after the first attempt (30 s, 5 min, 30 min like Kodisc; tests
pass short ones). Deliveries live in the server's event loop and are not kept across restarts.
"""
from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import httpx

from .._logging import get_logger
from ..contract._webhooks import sign

logger = get_logger("kodisc_jupyter.server")  # with the redaction filter, like every package logger
DEFAULT_RETRY_DELAYS = (30.0, 300.0, 1800.0)
ANSWER_TIMEOUT = 10.0
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def webhook_url_problem(url: str, *, allow_http: bool) -> str | None:
    """Why the server will not deliver to `url`, or None. http:// only to loopback, and only when allowed."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if allow_http and parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return None
    if allow_http:
        return "webhookUrl must be an https:// URL, or http://127.0.0.1 / http://localhost on this dev server."
    return "webhookUrl must be an https:// URL with a host, or null for no webhook."


def _shown(url: str) -> str:
    """The URL without query or credentials: handlers often carry a token there."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}{parts.path}"


class WebhookSender:
    def __init__(self, *, retry_delays=DEFAULT_RETRY_DELAYS, answer_timeout: float = ANSWER_TIMEOUT) -> None:
        self.retry_delays = tuple(float(delay) for delay in retry_delays)
        self.answer_timeout = answer_timeout
        self._tasks: set[asyncio.Task] = set()
        self._http: httpx.AsyncClient | None = None

    def deliver(self, url: str, secret: str, event: str, body: bytes, job_id: str) -> None:
        """Start delivering in the background (call from the server's event loop)."""
        task = asyncio.get_running_loop().create_task(self._deliver(url, secret, event, body, job_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, secret: str, event: str, body: bytes, job_id: str) -> None:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.answer_timeout, follow_redirects=False)
        first = time.monotonic()
        for attempt, offset in enumerate((0.0, *self.retry_delays), start=1):
            await asyncio.sleep(max(0.0, first + offset - time.monotonic()))
            headers = {"content-type": "application/json", "kodisc-event": event,
                       "kodisc-signature": sign(body, secret)}
            try:  # httpx's timeout bounds each read; the contract bounds the whole answer
                response = await asyncio.wait_for(self._http.post(url, content=body, headers=headers),
                                                  self.answer_timeout)
                if 200 <= response.status_code < 300:
                    return
                problem = f"answered {response.status_code}"
            except asyncio.TimeoutError:
                problem = f"did not answer within {self.answer_timeout:g} s"
            except httpx.HTTPError as exc:
                problem = f"failed: {type(exc).__name__}"
            logger.warning("webhook for job %s to %s %s (attempt %d of %d)", job_id, _shown(url), problem,
                           attempt, len(self.retry_delays) + 1)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()

"""`Kodisc` and `AsyncKodisc`: two thin I/O shells over one sans-IO core.

Every operation is written once, as a generator in `_Core` that yields *actions* -- send this
request, sleep this long, tell the caller about this job -- and receives their outcomes. The
sync client runs those generators with `httpx.Client` and `time.sleep`, the async client with
`httpx.AsyncClient` and `asyncio.sleep`; request building, validation, parsing, error mapping
and the retry and poll decisions exist only in the core.
"""
from __future__ import annotations

import asyncio
import inspect
import math
import os
import re
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx

from .._logging import get_logger
from .._redact import KEY_LIKE_RE, key_prefix
from .._version import __version__
from ..contract._errors import (
    APIConnectionError,
    APIResponseError,
    AuthenticationError,
    RateLimitError,
    ServerError,
    ValidationError,
    WaitTimeoutError,
    api_error_for,
    missing_key_error,
)
from ..contract._models import Account, Job
from ..contract._rules import (
    DEFAULT_ASPECT_RATIO,
    DEFAULT_BASE_URL,
    DEFAULT_QUALITY,
    UNSET,
    build_render_body,
    encode_json,
    is_number,
)
from ._credentials import resolve_api_key
from ._policy import PollPolicy, RetryPolicy, parse_retry_after

__all__ = ["AsyncKodisc", "Kodisc"]

T = TypeVar("T")
log = get_logger("kodisc_jupyter.client")

#: Without a deadline, wait() gives up after this many seconds in which no poll succeeded.
MAX_POLL_OUTAGE = 300.0
_EXPIRED_ASSET_HINT = "asset links may expire: get_job() the job again for fresh ones"
_BASE_URL_HINT = "check the base URL (KODISC_BASE_URL); it should end in /api/v2"
#: The request certainly never reached the server: safe to retry even a POST.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_RETRY_STATUSES = frozenset({429})
#: What a key may contain and still travel in a header (anything else would end up in httpx's error text).
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
_RENDER_OPTIONS = ("quality", "aspect_ratio", "fps", "metadata", "webhook_url")


@dataclass(frozen=True)
class _Send:
    request: httpx.Request


@dataclass(frozen=True)
class _Sleep:
    seconds: float


@dataclass(frozen=True)
class _Notify:
    callback: Callable[[Job], Any]
    job: Job


Flow = Generator[_Send | _Sleep | _Notify, Any, T]
UpdateCallback = Callable[[Job], None | Awaitable[None]]


class _DeadlineReached(Exception):
    """A retry would end after wait()'s deadline."""


class _Secret:
    """Holds the key so that no repr, vars() dump or debugger view shows more than its prefix."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"<secret {key_prefix(self._value)}…>"


def resolve_base_url(explicit: str | None) -> str:
    """The argument, else $KODISC_BASE_URL, else https://kodisc.com/api/v2 (no trailing slash).

    An explicit empty string is refused rather than read as "the default".
    """
    given = explicit if explicit is not None else os.environ.get("KODISC_BASE_URL") or DEFAULT_BASE_URL
    try:
        parts = urlsplit(given.strip()) if isinstance(given, str) else None
        ok = parts is not None and parts.scheme in ("https", "http") and bool(parts.hostname) and (
            parts.port is None or parts.port > 0)
    except ValueError:  # a bad [IPv6] host or port
        ok = False
    if not ok or any(char.isspace() or not char.isprintable() for char in given.strip()):
        source = "base_url" if explicit is not None else "KODISC_BASE_URL"
        shown = shown_url(given) if isinstance(given, str) else type(given).__name__
        raise ValidationError(f"{source} must be an http(s) URL with a host, like {DEFAULT_BASE_URL}; "
                              f"got {shown!r:.80}.", field="base_url")
    return given.strip().rstrip("/")


def shown_url(url: str) -> str:
    """`url` as it may be shown: a password in it (https://user:pass@host) becomes ***."""
    return re.sub(r"^([^:/?#]+://[^/?#@:]*):[^/?#@]*@", r"\1:***@", url)


def _check_render_options(method: str, options: dict[str, Any]) -> None:
    unknown = sorted(set(options) - set(_RENDER_OPTIONS))
    if unknown:
        raise ValidationError(f"{method}() got an unknown option {unknown[0]!r}; its render options are "
                              f"{', '.join(_RENDER_OPTIONS)}.", field=unknown[0])


def _check_job_id(job_or_id: Job | str) -> str:
    job_id = job_or_id.job_id if isinstance(job_or_id, Job) else job_or_id
    if not isinstance(job_id, str) or not job_id.strip():
        raise ValidationError(f"job id must be a non-empty string or a Job; got {job_or_id!r:.60}.", field="jobId")
    if KEY_LIKE_RE.search(job_id):  # it would travel in the URL, and so into httpx's own log lines
        raise ValidationError("That is an API key, not a job id: pass the jobId that render() returned",
                              field="jobId", next_step="past_jobs")
    return job_id


def _seconds(value: Any) -> bool:
    """A real number of seconds >= 0 (nan, and a bool, are not)."""
    return is_number(value) and value >= 0


def _check_wait_options(timeout: Any, on_update: Any, expected_seconds: Any) -> None:
    if timeout is not None and not _seconds(timeout):
        raise ValidationError(f"timeout must be a number of seconds >= 0 or None; got {timeout!r:.60}.",
                              field="timeout")
    if on_update is not None and not callable(on_update):
        raise ValidationError(f"on_update must be a function taking a Job (or None); got {on_update!r:.60}.",
                              field="on_update")
    if expected_seconds is not None and not (_seconds(expected_seconds) and math.isfinite(expected_seconds)):
        raise ValidationError(f"expected_seconds must be a number of seconds >= 0 or None; "
                              f"got {expected_seconds!r:.60}.", field="expected_seconds")


class _Core:
    """Everything but I/O: builds requests, decides retries and polls, maps answers to results."""

    def __init__(self, api_key: str | None, base_url: str | None, timeout: float, max_retries: int,
                 retry_policy: RetryPolicy | None, poll_policy: PollPolicy | None,
                 clock: Callable[[], float]) -> None:
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ValidationError(f"max_retries must be an integer >= 0; got {max_retries!r}.", field="max_retries")
        if not (_seconds(timeout) and 0 < timeout < math.inf):
            raise ValidationError(f"timeout must be a number of seconds > 0; got {timeout!r}.", field="timeout")
        self.base_url = resolve_base_url(base_url)
        key = resolve_api_key(api_key, self.base_url)
        self.secret = _Secret(key) if key else None
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.retry_policy = retry_policy or RetryPolicy()
        self.poll_policy = poll_policy or PollPolicy()
        self.clock = clock

    @property
    def key_prefix(self) -> str | None:
        return key_prefix(self.secret.reveal()) if self.secret else None

    # -- requests ---------------------------------------------------------------------------

    def _build(self, method: str, url: str, body: Any, authenticate: bool, timeout: float) -> httpx.Request:
        headers = {"Accept": "application/json", "User-Agent": f"kodisc-jupyter/{__version__}"}
        if authenticate:
            if self.secret is None:
                raise missing_key_error()
            if not _HEADER_SAFE.fullmatch(self.secret.reveal()):
                raise AuthenticationError("The Kodisc API key contains spaces or control characters (copy it again)",
                                          next_step="set_key")
            headers["Authorization"] = f"Bearer {self.secret.reveal()}"
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = encode_json(body)
        return httpx.Request(method, url, headers=headers, content=content,
                             extensions={"timeout": httpx.Timeout(timeout).as_dict()})

    def _retry_delay(self, attempt: int, deadline: float | None, retry_after: float | None = None) -> float | None:
        """Seconds to sleep before retrying, None when the retries are spent."""
        if attempt >= self.max_retries:
            return None
        delay = self.retry_policy.delay(attempt, retry_after)
        if deadline is not None and self.clock() + delay >= deadline:
            raise _DeadlineReached
        return delay

    def call(self, method: str, url: str, *, body: Any = None, authenticate: bool = True,
             resource: str = "", deadline: float | None = None,
             not_found_hint: str | None = None) -> Flow[httpx.Response]:
        """One logical request with its retries. GET retries on 5xx, 429 and any transport failure;
        POST only when no job can exist (the connection never opened, or a 5xx/429 answer)."""
        attempt = 0
        while True:
            timeout = self.timeout
            if deadline is not None:
                timeout = max(0.001, min(timeout, deadline - self.clock()))
            request = self._build(method, url, body, authenticate, timeout)
            log.debug("%s %s (attempt %d)", method, url, attempt + 1)
            try:
                response: httpx.Response = yield _Send(request)
            except httpx.RequestError as exc:
                retryable = isinstance(exc, _NOT_SENT) or (method == "GET" and isinstance(exc, httpx.TransportError))
                log.debug("%s %s failed: %s (attempt %d)", method, url, type(exc).__name__, attempt + 1)
                delay = self._retry_delay(attempt, deadline) if retryable else None
                if delay is None:
                    raise self._connection_error(method, url, exc, attempt) from exc
                attempt += 1
                yield _Sleep(delay)
                continue
            log.debug("%s %s -> %d (attempt %d)", method, url, response.status_code, attempt + 1)
            if response.is_success:
                return response
            status = response.status_code
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if status >= 500 or status in _RETRY_STATUSES:
                delay = self._retry_delay(attempt, deadline, retry_after)
                if delay is not None:
                    attempt += 1
                    yield _Sleep(delay)
                    continue
            raise api_error_for(status, self._json_or_none(response), resource=resource,
                                not_found_hint=not_found_hint or (None if authenticate else _EXPIRED_ASSET_HINT),
                                headers=response.headers, retry_after=retry_after)

    def _connection_error(self, method: str, url: str, exc: Exception, attempt: int) -> APIConnectionError:
        what = type(exc).__name__
        tries = f" after {attempt + 1} attempts" if attempt else ""
        if method == "POST" and not isinstance(exc, _NOT_SENT):
            return APIConnectionError(
                f"The connection to {shown_url(self.base_url)} broke after the render request was sent ({what}); a job may "
                "exist", next_step="check_jobs")
        return APIConnectionError(
            f"Could not reach {shown_url(url)} ({what}{tries}) -- check the network or the base URL, then try again.")

    @staticmethod
    def _json_or_none(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return None

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise APIResponseError(f"Kodisc answered {response.status_code} with a body that is not JSON "
                                   f"({response.text[:60]!r}); check the base URL.") from None

    # -- operations -------------------------------------------------------------------------

    def render(self, code: str, class_name: str, **options: Any) -> Flow[Job]:
        _check_render_options("render", options)
        body = build_render_body(code, class_name, **options)
        response = yield from self.call("POST", f"{self.base_url}/render", body=body)
        return Job.from_queued(self._json(response), received_at=datetime.now(timezone.utc))

    def get_job(self, job_or_id: Job | str, deadline: float | None = None) -> Flow[Job]:
        job_id = _check_job_id(job_or_id)
        url = f"{self.base_url}/render/{quote(job_id, safe='')}"
        response = yield from self.call("GET", url, resource=f"job {job_id}", deadline=deadline)
        return Job.from_dict(self._json(response))

    def me(self) -> Flow[Account]:
        # /me always exists on a Kodisc: a 404 means the base URL points somewhere else.
        response = yield from self.call("GET", f"{self.base_url}/me", resource="account",
                                        not_found_hint=_BASE_URL_HINT)
        return Account.from_dict(self._json(response))

    def download(self, url: str) -> Flow[bytes]:
        if not isinstance(url, str) or not url:
            raise ValidationError(f"download() needs an asset URL; got {url!r:.60}.", field="url")
        absolute = str(httpx.URL(self.base_url + "/").join(url))
        if not absolute.startswith(("https://", "http://")):
            raise ValidationError(f"download() needs an http(s) URL; got {url!r:.60}.", field="url")
        response = yield from self.call("GET", absolute, authenticate=False, resource=f"asset at {url}")
        return response.content

    def wait(self, job_or_id: Job | str, timeout: float | None, on_update: UpdateCallback | None,
             expected_seconds: float | None) -> Flow[Job]:
        """Poll until terminal. `timeout` is a total deadline that includes the retries."""
        job_id = _check_job_id(job_or_id)
        _check_wait_options(timeout, on_update, expected_seconds)
        job = job_or_id if isinstance(job_or_id, Job) else None
        if job is not None and job.done:
            return job
        start = self.clock()
        deadline = None if timeout is None else start + timeout
        age = 0.0 if job is None else max(0.0, (datetime.now(timezone.utc) - job.created_at).total_seconds())
        attempt = 0
        failing_since: float | None = None
        while True:
            if job is not None:
                delay = self.poll_policy.next_delay(age + self.clock() - start, job.status, attempt, expected_seconds)
                if deadline is not None and self.clock() + delay >= deadline:
                    yield _Sleep(max(0.0, deadline - self.clock()))
                    raise WaitTimeoutError(job_id, timeout, job)  # type: ignore[arg-type]
                yield _Sleep(delay)
            try:
                fresh = yield from self.get_job(job_id, deadline)
            except _DeadlineReached:
                yield _Sleep(max(0.0, deadline - self.clock()))  # type: ignore[operator]
                raise WaitTimeoutError(job_id, timeout, job) from None  # type: ignore[arg-type]
            except (ServerError, RateLimitError, APIConnectionError) as exc:
                # The job goes on while Kodisc has a bad moment: a poll that failed after its own
                # retries does not end the wait, only the deadline or a long outage does.
                failing_since = self.clock() if failing_since is None else failing_since
                outage = self.clock() - failing_since
                delay = self.retry_policy.delay(min(attempt, 4))
                if deadline is not None and self.clock() + delay >= deadline:
                    yield _Sleep(max(0.0, deadline - self.clock()))
                    raise WaitTimeoutError(job_id, timeout, job) from exc  # type: ignore[arg-type]
                if deadline is None and outage >= MAX_POLL_OUTAGE:
                    raise
                attempt += 1
                yield _Sleep(delay)
                continue
            failing_since = None
            attempt += 1
            if on_update is not None and (job is None or fresh.status != job.status):
                yield _Notify(on_update, fresh)
            job = fresh
            if job.done:
                return job


    def render_and_wait(self, code: str, class_name: str, render_options: dict[str, Any], timeout: float | None,
                        on_update: UpdateCallback | None, expected_seconds: float | None) -> Flow[Job]:
        _check_wait_options(timeout, on_update, expected_seconds)  # before the POST: a job must not start for nothing
        _check_render_options("render_and_wait", render_options)
        job = yield from self.render(code, class_name, **render_options)
        if on_update is not None:
            yield _Notify(on_update, job)
        job = yield from self.wait(job, timeout, on_update, expected_seconds)
        return job.raise_for_status()


class _BaseClient:
    _core: _Core

    @property
    def key_prefix(self) -> str | None:
        """The key's display prefix (e.g. `kdsc_live_9c1d`), or None without a key."""
        return self._core.key_prefix

    @property
    def base_url(self) -> str:
        return self._core.base_url

    def __repr__(self) -> str:
        return f"<{type(self).__name__} base_url={shown_url(self.base_url)!r} key={self.key_prefix and self.key_prefix + '…'!r}>"


class Kodisc(_BaseClient):
    """The Kodisc v2 API, blocking.

    The key comes from `api_key`, else $KODISC_API_KEY, else $KODISC_KEY, else the file saved by
    `%kodisc_login`; without one the first call raises `AuthenticationError`.
    """

    def __init__(self, api_key: str | None = None, *, base_url: str | None = None, timeout: float = 30.0,
                 max_retries: int = 3, retry_policy: RetryPolicy | None = None,
                 poll_policy: PollPolicy | None = None, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self._core = _Core(api_key, base_url, timeout, max_retries, retry_policy, poll_policy, clock)
        self._sleep = sleep
        self._http = httpx.Client(transport=transport, follow_redirects=True)

    def _run(self, flow: Flow[T]) -> T:
        outcome: Any = None
        failure: BaseException | None = None
        while True:
            try:
                action = flow.throw(failure) if failure is not None else flow.send(outcome)
            except StopIteration as stop:
                return stop.value
            outcome, failure = None, None
            if isinstance(action, _Send):
                try:
                    outcome = self._http.send(action.request)
                except httpx.RequestError as exc:
                    failure = exc
            elif isinstance(action, _Sleep):
                self._sleep(action.seconds)
            else:
                action.callback(action.job)

    def render(self, code: str, class_name: str, *, quality: str = DEFAULT_QUALITY, aspect_ratio: str = DEFAULT_ASPECT_RATIO,
               fps: int | None = None, metadata: Any = None, webhook_url: Any = UNSET) -> Job:
        """Enqueue a render; returns the queued Job. Invalid arguments raise before any request."""
        return self._run(self._core.render(code, class_name, quality=quality, aspect_ratio=aspect_ratio,
                                           fps=fps, metadata=metadata, webhook_url=webhook_url))

    def get_job(self, job_id: Job | str) -> Job:
        return self._run(self._core.get_job(job_id))

    def me(self) -> Account:
        return self._run(self._core.me())

    def download(self, url: str) -> bytes:
        """Fetch an asset URL (video, thumbnail, captions) without sending the API key."""
        return self._run(self._core.download(url))

    def wait(self, job_or_id: Job | str, *, timeout: float | None = None,
             on_update: Callable[[Job], Any] | None = None, expected_seconds: float | None = None) -> Job:
        """Poll until the job is terminal; a failed job is returned, not raised.

        `on_update(job)` runs on every change of status; `timeout` (seconds, retries included)
        raises `WaitTimeoutError`; `expected_seconds` (e.g. the median of similar past renders)
        lets the poll policy poll densely around the expected finish.
        """
        return self._run(self._core.wait(job_or_id, timeout, on_update, expected_seconds))

    def render_and_wait(self, code: str, class_name: str, *, timeout: float | None = None,
                        on_update: Callable[[Job], Any] | None = None, expected_seconds: float | None = None,
                        **render_options: Any) -> Job:
        """render() + wait(); raises `RenderFailedError` if the job failed."""
        return self._run(self._core.render_and_wait(code, class_name, render_options, timeout, on_update,
                                                    expected_seconds))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Kodisc:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


async def _call_back(callback: UpdateCallback, job: Job) -> None:
    result = callback(job)
    if inspect.isawaitable(result):
        await result


class AsyncKodisc(_BaseClient):
    """The Kodisc v2 API as coroutines; same arguments, same behaviour as `Kodisc`.

    `on_update` may be a plain function or a coroutine function.
    """

    def __init__(self, api_key: str | None = None, *, base_url: str | None = None, timeout: float = 30.0,
                 max_retries: int = 3, retry_policy: RetryPolicy | None = None,
                 poll_policy: PollPolicy | None = None, transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._core = _Core(api_key, base_url, timeout, max_retries, retry_policy, poll_policy, clock)
        self._sleep = sleep
        self._http = httpx.AsyncClient(transport=transport, follow_redirects=True)

    async def _run(self, flow: Flow[T]) -> T:
        outcome: Any = None
        failure: BaseException | None = None
        while True:
            try:
                action = flow.throw(failure) if failure is not None else flow.send(outcome)
            except StopIteration as stop:
                return stop.value
            outcome, failure = None, None
            if isinstance(action, _Send):
                try:
                    outcome = await self._http.send(action.request)
                except httpx.RequestError as exc:
                    failure = exc
            elif isinstance(action, _Sleep):
                await self._sleep(action.seconds)
            else:
                await _call_back(action.callback, action.job)

    async def render(self, code: str, class_name: str, *, quality: str = DEFAULT_QUALITY, aspect_ratio: str = DEFAULT_ASPECT_RATIO,
                     fps: int | None = None, metadata: Any = None, webhook_url: Any = UNSET) -> Job:
        """Enqueue a render; returns the queued Job. Invalid arguments raise before any request."""
        return await self._run(self._core.render(code, class_name, quality=quality, aspect_ratio=aspect_ratio,
                                                 fps=fps, metadata=metadata, webhook_url=webhook_url))

    async def get_job(self, job_id: Job | str) -> Job:
        return await self._run(self._core.get_job(job_id))

    async def me(self) -> Account:
        return await self._run(self._core.me())

    async def download(self, url: str) -> bytes:
        """Fetch an asset URL (video, thumbnail, captions) without sending the API key."""
        return await self._run(self._core.download(url))

    async def wait(self, job_or_id: Job | str, *, timeout: float | None = None,
                   on_update: UpdateCallback | None = None, expected_seconds: float | None = None) -> Job:
        """See `Kodisc.wait`."""
        return await self._run(self._core.wait(job_or_id, timeout, on_update, expected_seconds))

    async def render_and_wait(self, code: str, class_name: str, *, timeout: float | None = None,
                              on_update: UpdateCallback | None = None, expected_seconds: float | None = None,
                              **render_options: Any) -> Job:
        """render() + wait(); raises `RenderFailedError` if the job failed."""
        return await self._run(self._core.render_and_wait(code, class_name, render_options, timeout, on_update,
                                                          expected_seconds))

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncKodisc:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()


Kodisc.__module__ = AsyncKodisc.__module__ = "kodisc_jupyter"  # reported under the public package

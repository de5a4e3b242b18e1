"""Every exception kodisc-jupyter raises, as one tree.

    KodiscError
    ├── APIError                  Kodisc answered with an error status (.status_code, .code, .message,
    │                             .request_id when Kodisc sends one, .headers)
    │   ├── BadRequestError       400: a field is invalid; fix it, retrying unchanged fails again
    │   ├── AuthenticationError   401 (or no key at all): set a valid key
    │   ├── InsufficientCreditsError  402: no job was created; top up or wait for the monthly reset
    │   ├── NotFoundError         404: no such job for this key
    │   ├── RateLimitError        429 after the retries ran out (.retry_after: seconds, when the answer said)
    │   └── ServerError           5xx after the retries ran out
    ├── APIConnectionError        no usable answer (refused, timed out, dropped); for a POST, a job may exist
    ├── APIResponseError          a 2xx body that breaks the contract (.field names what is wrong)
    ├── ValidationError           (also a ValueError) a bad argument, caught before any request (.field)
    │   └── PreflightError        the scene cannot render as written (.errors: every problem found)
    ├── RenderFailedError         the job ended `failed` (.job)
    ├── WaitTimeoutError          (also a TimeoutError) wait() ran out of time (.job: the last Job seen)
    └── WebhookVerificationError  a webhook delivery failed verification (.reason)

Each message is one line that says what to do next, and never contains an API key.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._redact import redact

#: The public tree; `kodisc_jupyter.errors` re-exports exactly these.
__all__ = [
    "APIConnectionError", "APIError", "APIResponseError", "AuthenticationError", "BadRequestError",
    "InsufficientCreditsError", "KodiscError", "NotFoundError", "PreflightError", "RateLimitError", "RenderFailedError",
    "ServerError", "ValidationError", "WaitTimeoutError", "WebhookVerificationError",
]

if TYPE_CHECKING:
    from ._models import Job

#: What to do next, in a Python script's own terms. An error whose advice depends on where the
#: user is carries `next_step` (a key of this table) and `summary` (its message without the advice),
#: so the notebook and the command line say the same thing in their words (`backend.Hints`).
SCRIPT_STEPS = {
    "set_key": "set KODISC_API_KEY or pass Kodisc(api_key=...)",
    "check_jobs": "look the job up (History().list()) before submitting again",
    "past_jobs": "check the job id (past jobs: History().list()) and that you use the key that created it",
    "credits": "top up your credits or wait for the monthly free-credit reset (Kodisc().me() shows the balance)",
    "resume": "call wait() again to keep waiting",
}


def _one_line(text: str) -> str:
    return redact(" ".join(str(text).split()))


class KodiscError(Exception):
    """Base of every kodisc-jupyter error."""

    def __init__(self, message: str, *, next_step: str | None = None) -> None:
        self.summary = _one_line(message)
        self.next_step = next_step
        super().__init__(f"{self.summary} -- {SCRIPT_STEPS[next_step]}." if next_step else self.summary)


#: Where an answer names itself for a support request (Kodisc documents none yet; these are the usual ones).
REQUEST_ID_HEADERS = ("request-id", "x-request-id")


class APIError(KodiscError):
    """Kodisc answered with an error status. `code` is the body's `error`, `message` its `message`;
    `headers` the answer's headers and `request_id` the id it gave itself, if any (quote it to support)."""

    def __init__(self, text: str, *, status_code: int | None = None, code: str | None = None,
                 message: str | None = None, next_step: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(text, next_step=next_step)
        self.status_code = status_code
        self.code = redact(code) if code else code  # for a 400 it may be a sentence quoting the request
        self.message = _one_line(message) if message else None
        self.headers: Mapping[str, str] = headers if headers is not None else {}
        self.request_id = next((self.headers[name] for name in REQUEST_ID_HEADERS if self.headers.get(name)), None)


class BadRequestError(APIError):
    """400: the request broke a rule; the message names the field."""


class AuthenticationError(APIError):
    """401, or no key configured at all."""


class InsufficientCreditsError(APIError):
    """402: the balance is below the minimum reserve and no job was created."""


class NotFoundError(APIError):
    """404: the job id is unknown or belongs to another user."""


class RateLimitError(APIError):
    """429: too many requests, still refused after the retries; `retry_after`: the seconds the answer's
    `Retry-After` asked for (None when it did not say)."""

    def __init__(self, text: str, *, retry_after: float | None = None, **fields: Any) -> None:
        super().__init__(text, **fields)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: a Kodisc-side failure that outlasted the retries."""


class APIConnectionError(KodiscError):
    """No usable HTTP answer: connection refused, timeout, or a connection dropped mid-request."""


class APIResponseError(KodiscError):
    """A successful answer whose body breaks the contract; `field` names the offending field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ValidationError(KodiscError, ValueError):
    """A bad argument caught before any request is sent; `field` is the contract's field name."""

    def __init__(self, message: str, *, field: str | None = None, next_step: str | None = None) -> None:
        super().__init__(message, next_step=next_step)
        self.field = field


class PreflightError(ValidationError):
    """The scene cannot render as written; `errors` lists every problem found (nothing was sent)."""

    def __init__(self, errors: list[str]) -> None:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"Cannot render: {errors[0]}{more}.", field="code")
        self.errors = list(errors)


class RenderFailedError(KodiscError):
    """The job finished with status `failed`; `job` carries its `error`."""

    def __init__(self, job: Job) -> None:
        reason = job.error or "no reason given"
        super().__init__(f"Render {job.job_id} failed: {reason} -- fix the scene and render again.")
        self.job = job


class WaitTimeoutError(KodiscError, TimeoutError):
    """wait() gave up; the job may still finish. `job` is the last state seen (None if none was)."""

    def __init__(self, job_id: str, timeout: float, job: Job | None = None) -> None:
        state = f"still {job.status}" if job is not None else "not seen yet"
        super().__init__(f"Job {job_id} is {state} after {timeout:g} s", next_step="resume")
        self.job_id = job_id
        self.job = job
        self.timeout = timeout


class WebhookVerificationError(KodiscError):
    """A webhook delivery failed verification; `reason` is a short stable string."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


_STATUS_CLASSES: dict[int, type[APIError]] = {
    400: BadRequestError, 401: AuthenticationError, 402: InsufficientCreditsError,
    404: NotFoundError,
}


def missing_key_error() -> AuthenticationError:
    return AuthenticationError("No Kodisc API key", next_step="set_key")


def api_error_for(status_code: int, body: Any, *, resource: str = "", not_found_hint: str | None = None,
                  headers: Mapping[str, str] | None = None, retry_after: float | None = None) -> APIError:
    """The APIError subclass and one-line message for an error response (classified by status);
    `retry_after` (a 429's `Retry-After`, in seconds) is kept on the `RateLimitError`."""
    code = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else None
    server_message = body.get("message") if isinstance(body, dict) and isinstance(body.get("message"), str) else None
    detail = server_message or code or "no details"
    label = f"{status_code} {code}" if code and code != detail else str(status_code)
    step = None
    if status_code == 400:
        text = f"Kodisc rejected the request ({label}): {detail} -- fix that and try again; retrying unchanged fails again."
    elif status_code == 401:
        text, step = f"Kodisc rejected the API key ({label}): {detail}", "set_key"
    elif status_code == 402:
        text, step = f"Not enough Kodisc credits to start a render ({label}): {detail}; no job was created", "credits"
    elif status_code == 404:
        text = f"Kodisc has no {resource or 'such resource'} for this key ({label}): {detail}"
        if not_found_hint:
            text += f" -- {not_found_hint}."
        else:
            step = "past_jobs"
    elif status_code == 429:
        text = f"Kodisc is rate limiting this key ({label}): {detail} -- wait a minute and try again."
    elif status_code >= 500:
        text = f"Kodisc had a server error ({label}): {detail} -- try again in a few minutes."
    else:
        text = f"Kodisc answered HTTP {label}: {detail} -- check the request; report it if it persists."
    fields: dict[str, Any] = {"status_code": status_code, "code": code, "message": server_message, "next_step": step,
                              "headers": headers}
    if status_code == 429:
        return RateLimitError(text, retry_after=retry_after, **fields)
    cls = _STATUS_CLASSES.get(status_code, ServerError if status_code >= 500 else APIError)
    return cls(text, **fields)


for _name in __all__:  # reported (tracebacks, reprs, pickles) under the public module, like httpx's tree
    globals()[_name].__module__ = "kodisc_jupyter.errors"

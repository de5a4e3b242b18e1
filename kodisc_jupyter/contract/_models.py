"""The contract's resources as frozen dataclasses, parsed from and dumped to its camelCase JSON.

Parsing ignores unknown fields (v2 only grows) and raises `APIResponseError` naming the first
field that breaks the contract. The local server builds its responses with `to_dict()`, so the
shape the client parses and the shape the server sends are defined once.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .._redact import key_prefix, redact
from ._errors import APIResponseError, RenderFailedError
from ._rules import FAILED, TERMINAL_STATUSES, format_timestamp, is_number, parse_timestamp

_MISSING: Any = object()


def _field(data: Mapping[str, Any], name: str, check: Callable[[Any], bool], expected: str,
           *, default: Any = _MISSING, where: str = "job") -> Any:
    value = data.get(name, default)
    if value is _MISSING:
        raise APIResponseError(f"Kodisc sent a {where} without `{name}`; the client may be out of date "
                               "or the server broken -- report it.", field=name)
    if not check(value):
        raise APIResponseError(f"Kodisc sent a {where} whose `{name}` is not {expected} ({value!r:.60}); "
                               "report it.", field=name)
    return value


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_opt_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _is_opt_int(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def _timestamp(data: Mapping[str, Any], name: str, *, default: Any = _MISSING) -> datetime | None:
    text = _field(data, name, _is_opt_str, "a timestamp string or null", default=default)
    if text is None:
        return None
    try:
        return parse_timestamp(text)
    except ValueError:
        raise APIResponseError(f"Kodisc sent a job whose `{name}` is not an ISO 8601 timestamp ({text!r:.40}); "
                               "report it.", field=name) from None


def _redacted(text: str | None) -> str | None:
    """An error may quote the user's scene, and so a key written in it: keep only its display prefix."""
    return None if text is None else redact(text)


def _utc_ms(moment: datetime | None, name: str) -> datetime | None:
    """Aware UTC at millisecond precision: exactly what survives a to_dict()/from_dict() round trip."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be an aware datetime (e.g. datetime.now(timezone.utc))")
    moment = moment.astimezone(timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class RenderResult:
    """A completed job's asset URLs (MP4, JPEG, WebVTT); any of them may be missing."""

    video: str | None = None
    thumbnail: str | None = None
    captions: str | None = None

    @classmethod
    def from_dict(cls, data: Any) -> RenderResult:
        if not isinstance(data, Mapping):
            raise APIResponseError(f"Kodisc sent a job whose `result` is not an object or null ({data!r:.60}); "
                                   "report it.", field="result")
        urls = {name: _field(data, name, _is_opt_str, "a URL string or null", default=None, where="result")
                for name in ("video", "thumbnail", "captions")}
        return cls(**urls)

    def to_dict(self) -> dict[str, Any]:
        return {"video": self.video, "thumbnail": self.thumbnail, "captions": self.captions}


@dataclass(frozen=True)
class RenderProgress:
    """How far a running render got: animations finished and seconds of video rendered so far.

    Only the local server reports it (an extra `"progress"` field of a running job); Kodisc's
    answers have none, so nothing may depend on it.
    """

    animations: int
    seconds: float

    @classmethod
    def from_dict(cls, data: Any) -> RenderProgress | None:
        """The progress in `data`, or None when it is absent or malformed (it is never required)."""
        if not isinstance(data, Mapping):
            return None
        animations: Any = data.get("animations")
        seconds: Any = data.get("seconds")
        if type(animations) is not int or animations < 0 or not is_number(seconds) or not 0 <= seconds < 1e9:
            return None
        return cls(animations=animations, seconds=float(seconds))

    def to_dict(self) -> dict[str, Any]:
        return {"animations": self.animations, "seconds": self.seconds}


@dataclass(frozen=True, kw_only=True)
class Job:
    """One render job as `GET /render/{jobId}` describes it (datetimes are aware UTC)."""

    job_id: str
    status: str
    created_at: datetime
    credits_cost: float = 0
    duration_ms: int | None = None
    result: RenderResult | None = None
    error: str | None = None
    metadata: Any = None
    completed_at: datetime | None = None
    endpoint: str = "render"
    #: The local server's live progress of a running job; None from Kodisc and once the job ended.
    progress: RenderProgress | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "created_at", _utc_ms(self.created_at, "created_at"))
        object.__setattr__(self, "completed_at", _utc_ms(self.completed_at, "completed_at"))

    @property
    def done(self) -> bool:
        """True once the job is terminal (`completed` or `failed`)."""
        return self.status in TERMINAL_STATUSES

    def raise_for_status(self) -> Job:
        """Raise `RenderFailedError` if the job failed; otherwise return the job itself."""
        if self.status == FAILED:
            raise RenderFailedError(self)
        return self

    @classmethod
    def from_dict(cls, data: Any) -> Job:
        """Parse a full job body (GET /render/{jobId} or a webhook event); unknown fields are ignored."""
        return cls._parse(data, complete=True)

    @classmethod
    def from_queued(cls, data: Any, *, received_at: datetime) -> Job:
        """Parse the 202 answer to POST /render, which may carry only `jobId` and `status`."""
        return cls._parse(data, complete=False, received_at=received_at)

    @classmethod
    def _parse(cls, data: Any, *, complete: bool, received_at: datetime | None = None) -> Job:
        if not isinstance(data, Mapping):
            raise APIResponseError(f"Kodisc sent a job that is not a JSON object ({data!r:.60}); report it.",
                                   field=None)
        optional: dict[str, Any] = {} if complete else {"default": None}
        zero: dict[str, Any] = {} if complete else {"default": 0}
        job_id = _field(data, "jobId", lambda v: isinstance(v, str) and v != "", "a non-empty string")
        status = _field(data, "status", lambda v: isinstance(v, str) and v != "", "a non-empty string")
        result = _field(data, "result", lambda v: v is None or isinstance(v, Mapping), "an object or null",
                        **optional)
        return cls(
            job_id=job_id,
            status=status,
            endpoint=_field(data, "endpoint", _is_str, "a string", default="render"),
            credits_cost=_field(data, "creditsCost", is_number, "a number", **zero),
            duration_ms=_field(data, "durationMs", _is_opt_int, "an integer or null", **optional),
            result=None if result is None else RenderResult.from_dict(result),
            error=_redacted(_field(data, "error", _is_opt_str, "a string or null", **optional)),
            metadata=data.get("metadata"),
            created_at=_timestamp(data, "createdAt", **optional) or received_at,  # type: ignore[arg-type]
            completed_at=_timestamp(data, "completedAt", **optional),
            progress=RenderProgress.from_dict(data.get("progress")),
        )

    def to_dict(self) -> dict[str, Any]:
        """The contract's JSON shape (camelCase, every field present; `progress` only when known)."""
        body = {
            "jobId": self.job_id,
            "endpoint": self.endpoint,
            "status": self.status,
            "creditsCost": self.credits_cost,
            "durationMs": self.duration_ms,
            "result": None if self.result is None else self.result.to_dict(),
            "error": self.error,
            "metadata": self.metadata,
            "createdAt": format_timestamp(self.created_at),
            "completedAt": None if self.completed_at is None else format_timestamp(self.completed_at),
        }
        if self.progress is not None:
            body["progress"] = self.progress.to_dict()
        return body


@dataclass(frozen=True)
class Credits:
    """A balance: `paid` (purchased) + `free` (the plan's monthly allowance) = `total`."""

    paid: float
    free: float
    total: float

    @classmethod
    def from_dict(cls, data: Any) -> Credits:
        if not isinstance(data, Mapping):
            raise APIResponseError(f"Kodisc sent an account whose `credits` is not an object ({data!r:.60}); "
                                   "report it.", field="credits")
        return cls(**{name: _field(data, name, is_number, "a number", where="credits object")
                      for name in ("paid", "free", "total")})

    def to_dict(self) -> dict[str, Any]:
        return {"paid": self.paid, "free": self.free, "total": self.total}


@dataclass(frozen=True)
class Account:
    """`GET /me`: who the key belongs to and the balance. Holds only the key's display prefix."""

    user_id: str
    key_id: str
    key_prefix: str
    credits: Credits = field(default_factory=lambda: Credits(0, 0, 0))

    @classmethod
    def from_dict(cls, data: Any) -> Account:
        if not isinstance(data, Mapping):
            raise APIResponseError(f"Kodisc sent an account that is not a JSON object ({data!r:.60}); report it.")
        return cls(
            user_id=_field(data, "userId", _is_str, "a string", where="account"),
            key_id=_field(data, "keyId", _is_str, "a string", where="account"),
            # a server that echoes the whole key must not make it show up in a repr or to_dict()
            key_prefix=key_prefix(_field(data, "keyPrefix", _is_str, "a string", where="account")),
            credits=Credits.from_dict(data.get("credits")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"userId": self.user_id, "keyId": self.key_id, "keyPrefix": self.key_prefix,
                "credits": self.credits.to_dict()}


for _public in (Account, Credits, Job, RenderProgress, RenderResult):  # reported under the public package
    _public.__module__ = "kodisc_jupyter"

"""The Kodisc v2 client: typed models, the error tree, and the sync and async clients.

Everything that talks HTTP to Kodisc (or to the local server) goes through here. The models,
errors and rules live in `kodisc_jupyter.contract` (re-exported here); httpx is imported only
when `Kodisc` or `AsyncKodisc` is first used.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..contract._errors import (
    APIConnectionError,
    APIError,
    APIResponseError,
    AuthenticationError,
    BadRequestError,
    InsufficientCreditsError,
    KodiscError,
    NotFoundError,
    RateLimitError,
    RenderFailedError,
    ServerError,
    ValidationError,
    WaitTimeoutError,
    WebhookVerificationError,
)
from ..contract._models import Account, Credits, Job, RenderResult
from ..contract._rules import (
    ASPECT_RATIOS,
    CLASS_NAME_RE,
    DEFAULT_BASE_URL,
    KEY_RE,
    MAX_BODY_BYTES,
    QUALITIES,
    TERMINAL_STATUSES,
    UNSET,
    build_render_body,
    format_timestamp,
    key_prefix,
    parse_timestamp,
    validate_render_body,
)
from ._policy import PollPolicy, RetryPolicy

if TYPE_CHECKING:
    from ._client import AsyncKodisc, Kodisc

__all__ = [
    "ASPECT_RATIOS", "CLASS_NAME_RE", "DEFAULT_BASE_URL", "KEY_RE", "MAX_BODY_BYTES", "QUALITIES",
    "TERMINAL_STATUSES", "UNSET", "build_render_body", "format_timestamp", "key_prefix", "parse_timestamp",
    "validate_render_body",
    "APIConnectionError", "APIError", "APIResponseError", "AuthenticationError", "BadRequestError",
    "InsufficientCreditsError", "KodiscError", "NotFoundError", "RateLimitError", "RenderFailedError",
    "ServerError", "ValidationError", "WaitTimeoutError", "WebhookVerificationError",
    "Account", "Credits", "Job", "RenderResult",
    "AsyncKodisc", "Kodisc", "PollPolicy", "RetryPolicy",
]


def __getattr__(name: str) -> Any:
    if name in ("Kodisc", "AsyncKodisc"):
        from . import _client

        return getattr(_client, name)
    raise AttributeError(f"module 'kodisc_jupyter.client' has no attribute {name!r}")

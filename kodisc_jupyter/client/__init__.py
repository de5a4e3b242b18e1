"""The Kodisc v2 client: typed models, the error tree, and the sync and async clients.

Everything that talks HTTP to Kodisc (or to the local server) goes through here.
"""
from __future__ import annotations

from ._contract import (
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
from ._errors import (
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
from ._client import AsyncKodisc, Kodisc
from ._models import Account, Credits, Job, RenderResult
from ._policy import PollPolicy, RetryPolicy

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

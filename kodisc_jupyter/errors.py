"""The public exception tree (documented in `kodisc_jupyter.client._errors`)."""
from __future__ import annotations

from .client._errors import (
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
from .client._errors import __doc__ as __doc__  # noqa: F401  one tree, documented once

__all__ = [
    "APIConnectionError", "APIError", "APIResponseError", "AuthenticationError", "BadRequestError",
    "InsufficientCreditsError", "KodiscError", "NotFoundError", "RateLimitError", "RenderFailedError",
    "ServerError", "ValidationError", "WaitTimeoutError", "WebhookVerificationError",
]

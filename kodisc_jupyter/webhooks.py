"""Verify (and, for the local server, sign) Kodisc webhook deliveries."""
from __future__ import annotations

from .contract._webhooks import (
    DEFAULT_TOLERANCE,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    WebhookVerificationError,
    sign,
    verify,
)
from .contract._webhooks import __doc__ as __doc__  # noqa: F401

__all__ = ["DEFAULT_TOLERANCE", "EVENT_HEADER", "SIGNATURE_HEADER", "WebhookVerificationError", "sign", "verify"]

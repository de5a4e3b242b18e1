"""The Kodisc v2 contract, with no HTTP stack: models, the error tree, request rules, webhooks.

Shared by `client/` (which speaks HTTP to Kodisc) and `server/` (the local Kodisc), so neither
reaches into the other. Importing it loads neither httpx nor asyncio.
"""
from __future__ import annotations

from ._errors import *  # noqa: F403  the tree, documented once in _errors
from ._errors import __all__ as _error_names
from ._models import Account, Credits, Job, RenderProgress, RenderResult
from ._rules import (
    ASPECT_RATIOS,
    CLASS_NAME_RE,
    COMPLETED,
    DEFAULT_ASPECT_RATIO,
    DEFAULT_BASE_URL,
    DEFAULT_QUALITY,
    FAILED,
    KEY_RE,
    MANIM_QUALITY_LETTERS,
    MAX_BODY_BYTES,
    PENDING_STATUSES,
    QUALITIES,
    QUEUED,
    RUNNING,
    STATUSES,
    TERMINAL_STATUSES,
    UNSET,
    build_render_body,
    format_timestamp,
    key_prefix,
    parse_timestamp,
    validate_render_body,
)
from ._webhooks import sign, verify

__all__ = [
    *_error_names,
    "Account", "Credits", "Job", "RenderProgress", "RenderResult",
    "ASPECT_RATIOS", "CLASS_NAME_RE", "DEFAULT_ASPECT_RATIO", "DEFAULT_BASE_URL", "DEFAULT_QUALITY",
    "KEY_RE", "MANIM_QUALITY_LETTERS", "MAX_BODY_BYTES", "QUALITIES",
    "TERMINAL_STATUSES", "UNSET", "build_render_body", "format_timestamp", "key_prefix", "parse_timestamp",
    "validate_render_body", "sign", "verify",
    "STATUSES", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "PENDING_STATUSES",
]

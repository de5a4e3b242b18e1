"""Redaction for everything kodisc-jupyter logs.

A filter on a logger only sees records logged *to that logger*, not those propagating from its
children, so every module of the package makes its logger with `get_logger()`, which attaches
the filter (a test holds the package to that).
"""
from __future__ import annotations

import logging
import re

from ._redact import redact

ROOT_LOGGER = "kodisc_jupyter"
_AUTHORIZATION_RE = re.compile(r"""(?i)(authorization['"]?\s*[:=]\s*['"]?)(?:bearer\s+)?[^\s,'"}\]]+""")


def redact_log_text(text: str) -> str:
    """Hide `Authorization` header values and anything key-like."""
    return redact(_AUTHORIZATION_RE.sub(r"\1[redacted]", text))


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (with its arguments merged in) and traceback through `redact_log_text`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_log_text(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:  # formatters reuse exc_text: fill it in, redacted
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_log_text(record.exc_text)
        return True


_FILTER = RedactingFilter()


def get_logger(name: str = ROOT_LOGGER) -> logging.Logger:
    """The named logger (under `kodisc_jupyter`) with the redaction filter attached exactly once."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


get_logger(ROOT_LOGGER)

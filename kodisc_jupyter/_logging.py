"""Redaction for everything kodisc-jupyter logs, and no log records in a cell while it renders.

A filter on a logger only sees records logged *to that logger*, not those propagating from its
children, so every module of the package makes its logger with `get_logger()`, which attaches
the filters (a test holds the package to that).

`quiet_logs()` is for a render driven from a notebook cell: whatever handlers the kernel has
(`from manim import *` puts a rich handler on the root logger at INFO), the records this package
and its HTTP stack (httpx, httpcore) log inside it are dropped at their source, so none becomes
output of the cell; our ERROR records (bugs) still get through. It changes no level, handler or
propagation, and httpx calls of the user's own code, outside it, log as before.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

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


#: The loggers httpx and httpcore log to (httpcore's are children, so each needs the filter itself).
HTTP_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy", "httpcore.socks")
_QUIET: ContextVar[bool] = ContextVar("kodisc_quiet_logs", default=False)


class QuietFilter(logging.Filter):
    """Drops records logged inside `quiet_logs()`, except the package's own errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _QUIET.get():
            return True
        return record.levelno >= logging.ERROR and (record.name + ".").startswith(ROOT_LOGGER + ".")


_FILTER = RedactingFilter()
_QUIET_FILTER = QuietFilter()


def _attach(logger: logging.Logger, log_filter: logging.Filter) -> None:
    if log_filter not in logger.filters:
        logger.addFilter(log_filter)


def get_logger(name: str = ROOT_LOGGER) -> logging.Logger:
    """The named logger (under `kodisc_jupyter`) with the redaction and quiet filters attached exactly once."""
    logger = logging.getLogger(name)
    _attach(logger, _FILTER)
    _attach(logger, _QUIET_FILTER)
    return logger


@contextmanager
def quiet_logs() -> Iterator[None]:
    """No records from this package (below ERROR) or the HTTP stack inside: a cell's render shows none.

    A context variable scopes it to this thread, or to this asyncio task."""
    for name in HTTP_LOGGERS:
        _attach(logging.getLogger(name), _QUIET_FILTER)
    token = _QUIET.set(True)
    try:
        yield
    finally:
        _QUIET.reset(token)


get_logger(ROOT_LOGGER)

"""The contract's timestamps (`2026-04-28T17:14:02.118Z`), kept light so history and the server
can use them without importing the HTTP client."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

__all__ = ["format_timestamp", "parse_timestamp"]


def format_timestamp(moment: datetime) -> str:
    """`2026-04-28T17:14:02.118Z`: UTC, milliseconds (truncated), a literal `Z`."""
    if moment.tzinfo is None:
        raise ValueError("format_timestamp needs an aware datetime (e.g. datetime.now(timezone.utc))")
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


_TIMESTAMP_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})",
    re.IGNORECASE,
)


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO 8601 timestamp with a zone (`Z` or an offset) into an aware UTC datetime."""
    match = _TIMESTAMP_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not an ISO 8601 UTC timestamp: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    if zone.upper() == "Z":
        tz = timezone.utc
    else:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz)
    return moment.astimezone(timezone.utc)

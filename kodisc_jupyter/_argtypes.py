"""argparse `type=` converters shared by every `kodisc` subcommand: one wording for every bad value."""
from __future__ import annotations

import argparse
import keyword
import math
from collections.abc import Callable

from ._choices import MAX_FPS, MIN_FPS


def whole_number(minimum: int, maximum: int | None = None, *, note: str = "") -> Callable[[str], int]:
    """A converter for an int in [minimum, maximum]; `note` explains a special value (e.g. 0 = any port)."""
    span = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"
    suffix = f" ({note})" if note else ""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be {span}{suffix}, got {value}")
        return value

    return convert


positive_int = whole_number(1)
non_negative_int = whole_number(0)
port = whole_number(0, 65535, note="0 = any free port")
fps = whole_number(MIN_FPS, MAX_FPS)


def identifier(text: str) -> str:
    """A name a result can be bound to: a Python identifier that is not a keyword."""
    if not text.isidentifier() or keyword.iskeyword(text):
        raise argparse.ArgumentTypeError(f"must be a Python variable name (letters, digits, _; not a keyword), "
                                         f"got {text!r}")
    return text


def webhook_url(text: str) -> str:
    """A webhook URL the contract accepts (https, a valid host and port, no credentials)."""
    from .contract._errors import ValidationError  # only for a line that sets a webhook
    from .contract._rules import webhook_url_parts

    try:
        webhook_url_parts(text)
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("webhookUrl ").rstrip(".")) from None
    return text


def _number(text: str, expected: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def fraction(text: str) -> float:
    """A rate between 0 and 1."""
    value = _number(text, "a number between 0 and 1")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def non_negative_number(text: str) -> float:
    """A finite number >= 0 (an exchange rate)."""
    value = _number(text, "a number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def positive_seconds(text: str) -> float:
    """A finite duration above zero (nan, inf and negatives are refused)."""
    value = _number(text, "a number of seconds")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def seconds_list(text: str) -> tuple[float, ...]:
    """Comma-separated delays like 30,300,1800."""
    delays = tuple(_number(part, "seconds separated by commas, like 30,300,1800")
                   for part in text.split(",") if part.strip())
    if any(delay < 0 for delay in delays):
        raise argparse.ArgumentTypeError("delays must be >= 0 seconds")
    return delays


def seconds_range(text: str) -> tuple[float, float]:
    """LOW,HIGH seconds like 0.05,0.2."""
    parts = text.split(",")
    low, high = (_number(parts[0], "LOW,HIGH seconds like 0.05,0.2"),
                 _number(parts[-1], "LOW,HIGH seconds like 0.05,0.2"))
    if not 0 <= low <= high:
        raise argparse.ArgumentTypeError("latency needs 0 <= LOW <= HIGH")
    return low, high

"""The Kodisc v2 contract's constants and rules, in one place.

The client validates what it sends with these rules and the local server validates what it
receives with the very same functions, so a rule can never differ between the two.
"""
from __future__ import annotations

import ipaddress
import json
import re
from typing import Any
from urllib.parse import SplitResult, urlsplit

from .._choices import (
    ASPECT_RATIOS,
    DEFAULT_ASPECT_RATIO,
    DEFAULT_QUALITY,
    MANIM_QUALITY_LETTERS,
    MAX_FPS,
    MIN_FPS,
    QUALITIES,
    STATUSES,
)
from .._redact import KEY_LIKE_RE, KEY_PREFIX_LENGTH, key_prefix, redact
from .._timestamps import format_timestamp, parse_timestamp
from ._errors import ValidationError

__all__ = [
    "ASPECT_RATIOS", "CLASS_NAME_RE", "DEFAULT_ASPECT_RATIO", "DEFAULT_BASE_URL", "DEFAULT_QUALITY", "KEY_LIKE_RE",
    "KEY_PREFIX_LENGTH", "KEY_RE", "MAX_BODY_BYTES", "QUALITIES", "STATUSES", "TERMINAL_STATUSES", "UNSET",
    "MANIM_QUALITY_LETTERS", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "PENDING_STATUSES",
    "MAX_FPS", "MAX_JSON_DEPTH", "MAX_METADATA_DEPTH", "MAX_URL_LENGTH",
    "build_render_body", "check_json_depth", "encode_json", "format_timestamp", "is_number", "key_prefix",
    "parse_timestamp",
    "redact", "validate_render_body", "webhook_url_parts",
]

DEFAULT_BASE_URL = "https://kodisc.com/api/v2"

CLASS_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: A well-formed key: `kdsc_live_` + 48 lowercase hex characters.
KEY_RE = re.compile(r"kdsc_live_[0-9a-f]{48}")
MAX_BODY_BYTES = 200 * 1024
#: How deeply `metadata` may nest (an object in an array is depth 2), and so a whole body (one more).
MAX_METADATA_DEPTH = 32
MAX_JSON_DEPTH = MAX_METADATA_DEPTH + 1
MAX_URL_LENGTH = 2048

QUEUED, RUNNING, COMPLETED, FAILED = STATUSES
PENDING_STATUSES = frozenset({QUEUED, RUNNING})
TERMINAL_STATUSES = frozenset({COMPLETED, FAILED})


class _Unset:
    """Marks an argument the caller left out (distinct from an explicit `None`)."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()

_JSON_TOKENS = re.compile(rb'[\\"\[\]{}]')


def check_json_depth(raw: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON text nesting deeper than `limit`, without parsing it (so without recursion).

    `json.loads` recurses once per level and a 100,000-deep array is a RecursionError; this scan
    looks only at brackets outside strings.
    """
    depth, in_string, skip_to = 0, False, -1
    for match in _JSON_TOKENS.finditer(raw):
        start = match.start()
        if start < skip_to:  # the character a backslash escapes
            continue
        char = raw[start]
        if char == 0x5C:  # backslash (only inside strings in valid JSON)
            skip_to = start + 2
        elif char == 0x22:  # quote
            in_string = not in_string
        elif not in_string:
            depth += 1 if char in (0x5B, 0x7B) else -1
            if depth > limit:
                raise ValidationError(f"body nests more than {limit} levels deep; metadata may nest at most "
                                      f"{MAX_METADATA_DEPTH} levels.", field="body")


def is_number(value: Any) -> bool:
    """An int or float that is neither a bool nor nan (both pass `isinstance(value, float)` checks)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)


def _invalid(field: str, rule: str, value: Any) -> ValidationError:
    shown = repr(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""
    got = f"{shown} ({_type_name(value)})" if shown else _type_name(value)
    if isinstance(value, str) and len(shown) > 60:
        got = f"{shown[:57]}...' ({_type_name(value)})"
    return ValidationError(f"{field} {rule}; got {got}.", field=field)


def validate_render_body(body: Any, *, allow_http_webhook: bool = False) -> dict[str, Any]:
    """Check a `POST /render` body (as parsed JSON) against the contract.

    Returns a copy with `quality` and `aspectRatio` defaults filled in; `fps`, `metadata` and
    `webhookUrl` stay absent when absent (an absent `webhookUrl` means "the key's default").
    Unknown fields are dropped. Raises `ValidationError` whose `.field` is the contract's field
    name and whose message is fit to be a 400 response's `message`.
    """
    if not isinstance(body, dict):
        raise _invalid("body", "must be a JSON object", body)
    code = body.get("code", UNSET)
    if code is UNSET:
        raise ValidationError("code is required: the Manim source holding the Scene subclass.", field="code")
    if not isinstance(code, str) or not code:
        raise _invalid("code", "must be a non-empty string of Manim source", code)
    if not _is_utf8(code):
        raise ValidationError("code contains a lone surrogate (an unpaired \\ud800-\\udfff), which is not text; "
                              "remove it or write the character it was meant to be.", field="code")
    class_name = body.get("className", UNSET)
    if class_name is UNSET:
        raise ValidationError("className is required: the name of the Scene subclass to render.", field="className")
    if not isinstance(class_name, str) or not CLASS_NAME_RE.fullmatch(class_name):
        raise _invalid("className", "must be a Python identifier (^[A-Za-z_][A-Za-z0-9_]*$) naming the Scene subclass", class_name)
    quality = body.get("quality", DEFAULT_QUALITY)
    if not isinstance(quality, str) or quality not in QUALITIES:
        raise _invalid("quality", f"must be one of {', '.join(QUALITIES)}", quality)
    aspect = body.get("aspectRatio", DEFAULT_ASPECT_RATIO)
    if not isinstance(aspect, str) or aspect not in ASPECT_RATIOS:
        raise _invalid("aspectRatio", f"must be one of {', '.join(ASPECT_RATIOS)}", aspect)
    clean: dict[str, Any] = {"code": code, "className": class_name, "quality": quality, "aspectRatio": aspect}
    if "fps" in body:
        fps = body["fps"]
        if type(fps) is not int or not MIN_FPS <= fps <= MAX_FPS:
            raise _invalid("fps", f"must be a whole number from {MIN_FPS} to {MAX_FPS}", fps)
        clean["fps"] = fps
    if "metadata" in body:
        _check_metadata(body["metadata"])
        clean["metadata"] = body["metadata"]
    if "webhookUrl" in body:
        url = body["webhookUrl"]
        if url is not None:
            webhook_url_parts(url, allow_http=allow_http_webhook)
        clean["webhookUrl"] = url
    size = len(encode_json(clean))
    if size > MAX_BODY_BYTES:
        raise ValidationError(
            f"body is {size} bytes, over the {MAX_BODY_BYTES}-byte limit; shorten code or metadata.", field="body")
    return clean


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_metadata(metadata: Any) -> None:
    """JSON values only, at most MAX_METADATA_DEPTH deep, text without lone surrogates (checked without recursion)."""
    pending: list[tuple[Any, int]] = [(metadata, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_METADATA_DEPTH:
                raise ValidationError(f"metadata nests more than {MAX_METADATA_DEPTH} levels deep; flatten it.",
                                      field="metadata")
            if isinstance(value, dict):
                for name in value:
                    if not isinstance(name, str):
                        raise ValidationError(f"metadata keys must be strings; got {_type_name(name)}.",
                                              field="metadata")
                    pending.append((name, depth))
            pending.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
        elif isinstance(value, str):
            if not _is_utf8(value):
                raise ValidationError("metadata contains a lone surrogate (\\ud800-\\udfff), which is not text.",
                                      field="metadata")
        elif isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise ValidationError(f"metadata numbers must be finite; got {value!r}.", field="metadata")
        elif isinstance(value, int) and value.bit_length() > 1000:  # JSON readers stop at some thousand digits
            raise ValidationError("metadata integers must have at most 300 digits; send a big number as a string.",
                                  field="metadata")
        elif value is not None and not isinstance(value, (bool, int)):
            raise ValidationError(f"metadata must be JSON (objects, arrays, strings, numbers, booleans, null); "
                                  f"got {_type_name(value)}.", field="metadata")


_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f-\x9f\\]")
_HOST_NAME = re.compile(r"(?=.{1,253}\.?$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)"
                        r"(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?")


def webhook_url_parts(url: Any, *, allow_http: bool = False) -> SplitResult:
    """The parts of a well-formed webhook URL, or a ValidationError (field `webhookUrl`) saying what is wrong.

    Well-formed: a string of at most MAX_URL_LENGTH characters with no spaces, control characters
    or backslashes; https (or http when `allow_http`); a valid host name, IPv4 address or bracketed
    IPv6 address; a port from 1 to 65535 if any; no user name or password.
    """
    def bad(rule: str) -> ValidationError:
        return _invalid("webhookUrl", rule, url)

    if not isinstance(url, str):
        raise bad("must be an https:// URL, or null for no webhook")
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError(f"webhookUrl is {len(url)} characters, over the {MAX_URL_LENGTH} limit.",
                              field="webhookUrl")
    if _URL_FORBIDDEN.search(url) or not _is_utf8(url):
        raise bad("must not contain spaces, control characters or backslashes (percent-encode them)")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # an unclosed or invalid [IPv6] host
        raise bad(f"is not a valid URL ({exc})") from None
    try:
        port = parts.port
    except ValueError:  # not a number, or over 65535
        port = 0
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        raise bad("must be an https:// URL with a host, or null for no webhook")
    if parts.username is not None or parts.password is not None:
        raise ValidationError("webhookUrl must not carry a user name or password; put a token in its path or "
                              "query and verify the signature instead.", field="webhookUrl")
    host = parts.hostname or ""
    if "[" in parts.netloc:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise bad("has an invalid [IPv6] host") from None
    elif not host or not (host.isascii() and _HOST_NAME.fullmatch(host)) and not _idna_ok(host):
        raise bad("must have a valid host name")
    if port == 0:
        raise bad("must have a port from 1 to 65535")
    return parts


def _idna_ok(host: str) -> bool:
    """A non-ASCII host name that IDNA can encode (e.g. bücher.example)."""
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        return False
    return bool(_HOST_NAME.fullmatch(ascii_host))


def encode_json(value: Any) -> bytes:
    """The compact UTF-8 JSON the client sends (and whose length the size limit applies to)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def build_render_body(code: str, class_name: str, *, quality: str = DEFAULT_QUALITY,
                      aspect_ratio: str = DEFAULT_ASPECT_RATIO, fps: int | None = None,
                      metadata: Any = None, webhook_url: Any = UNSET) -> dict[str, Any]:
    """The validated `POST /render` body for `Kodisc.render()`'s arguments.

    `fps` and `metadata` are sent only when given; `webhook_url` left out omits the field (the
    key's default applies) while `webhook_url=None` sends `null` (no webhook for this job).
    """
    body: dict[str, Any] = {"code": code, "className": class_name, "quality": quality, "aspectRatio": aspect_ratio}
    if fps is not None:
        body["fps"] = fps
    if metadata is not None:
        body["metadata"] = metadata
    if webhook_url is not UNSET:
        body["webhookUrl"] = webhook_url
    return validate_render_body(body)

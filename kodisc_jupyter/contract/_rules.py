"""The Kodisc v2 contract's constants and rules, in one place.

The client validates what it sends with these rules and the local server validates what it
receives with the very same functions, so a rule can never differ between the two.
"""
from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from .._redact import KEY_LIKE_RE, KEY_PREFIX_LENGTH, key_prefix, redact
from .._timestamps import format_timestamp, parse_timestamp
from ._errors import ValidationError

__all__ = [
    "ASPECT_RATIOS", "CLASS_NAME_RE", "DEFAULT_ASPECT_RATIO", "DEFAULT_BASE_URL", "DEFAULT_QUALITY", "KEY_LIKE_RE",
    "KEY_PREFIX_LENGTH", "KEY_RE", "MAX_BODY_BYTES", "QUALITIES", "STATUSES", "TERMINAL_STATUSES", "UNSET",
    "MANIM_QUALITY_LETTERS", "STATUSES", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "PENDING_STATUSES",
    "build_render_body", "encode_json", "format_timestamp", "key_prefix", "parse_timestamp", "redact",
    "validate_render_body",
]

DEFAULT_BASE_URL = "https://kodisc.com/api/v2"

#: quality name -> (width, height, default fps), landscape; `9:16` swaps width and height.
QUALITIES: dict[str, tuple[int, int, int]] = {
    "low": (854, 480, 15),
    "medium": (1280, 720, 30),
    "high": (1920, 1080, 30),
    "twok": (2560, 1440, 30),
    "fourk": (3840, 2160, 30),
}
ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16")
#: Manim's own `-q` letters for each quality (`manim -qm`), accepted wherever a quality is typed.
MANIM_QUALITY_LETTERS: dict[str, str] = {"l": "low", "m": "medium", "h": "high", "p": "twok", "k": "fourk"}
DEFAULT_QUALITY = "medium"
DEFAULT_ASPECT_RATIO = "16:9"

CLASS_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: A well-formed key: `kdsc_live_` + 48 lowercase hex characters.
KEY_RE = re.compile(r"kdsc_live_[0-9a-f]{48}")
MAX_BODY_BYTES = 200 * 1024

STATUSES: tuple[str, ...] = ("queued", "running", "completed", "failed")
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
        if type(fps) is not int or fps < 1:
            raise _invalid("fps", "must be an integer >= 1", fps)
        clean["fps"] = fps
    if "metadata" in body:
        try:
            json.dumps(body["metadata"], allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"metadata must be JSON-serialisable (dicts, lists, str, int, float, bool, None); {exc}.",
                                  field="metadata") from None
        clean["metadata"] = body["metadata"]
    if "webhookUrl" in body:
        url = body["webhookUrl"]
        schemes = ("https", "http") if allow_http_webhook else ("https",)
        if url is not None:
            parts = urlsplit(url) if isinstance(url, str) else None
            if parts is None or parts.scheme not in schemes or not parts.netloc:
                rule = "must be an https:// URL with a host, or null for no webhook"
                raise _invalid("webhookUrl", rule, url)
        clean["webhookUrl"] = url
    size = len(encode_json(clean))
    if size > MAX_BODY_BYTES:
        raise ValidationError(
            f"body is {size} bytes, over the {MAX_BODY_BYTES}-byte limit; shorten code or metadata.", field="body")
    return clean


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

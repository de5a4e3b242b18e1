"""Signing and verifying Kodisc webhook deliveries.

A delivery carries `kodisc-signature: t=<unix seconds>,v1=<hex>` where `v1` is
HMAC-SHA256(secret, f"{t}.".encode() + raw_body). Verify the raw bytes *before* parsing JSON.
Several `v1=` values may appear (secret rotation): any match is enough.

    from kodisc_jupyter.webhooks import verify, WebhookVerificationError

    try:
        event = verify(raw_body, headers["kodisc-signature"], secret="whsec_...")
    except WebhookVerificationError as exc:
        return 400, exc.reason
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from ._errors import WebhookVerificationError

SIGNATURE_HEADER = "kodisc-signature"
EVENT_HEADER = "kodisc-event"
DEFAULT_TOLERANCE = 300
#: A real header is ~80 characters per signature; anything longer is refused before it is parsed.
MAX_HEADER_LENGTH = 4096

__all__ = ["DEFAULT_TOLERANCE", "EVENT_HEADER", "MAX_HEADER_LENGTH", "SIGNATURE_HEADER", "WebhookVerificationError", "sign", "verify"]


def _as_bytes(payload: bytes | str) -> bytes:
    return payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)


def _signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """The `kodisc-signature` header value for `payload` (timestamp: unix seconds, default now)."""
    moment = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={moment},v1={_signature(_as_bytes(payload), secret, moment)}"


def _parse_header(header: str | None) -> tuple[int, list[str]]:
    if not header or not header.strip():
        raise WebhookVerificationError(
            "missing_header", f"No {SIGNATURE_HEADER} header: reject the request (it did not come from Kodisc).")
    if len(header) > MAX_HEADER_LENGTH:
        raise WebhookVerificationError(
            "malformed_header", f"The {SIGNATURE_HEADER} header is over {MAX_HEADER_LENGTH} characters: reject the request.")
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            timestamps.append(value.strip())
        elif name == "v1":
            signatures.append(value.strip())
    if len(timestamps) != 1 or not (timestamps[0].isascii() and timestamps[0].isdigit() and len(timestamps[0]) <= 12):
        raise WebhookVerificationError(
            "malformed_header",
            f"Malformed {SIGNATURE_HEADER} header (need exactly one t=<unix seconds>): reject the request.")
    if not signatures:
        raise WebhookVerificationError(
            "no_signature", f"The {SIGNATURE_HEADER} header has no v1= signature: reject the request.")
    return int(timestamps[0]), signatures


def verify(payload: bytes | str, signature_header: str | bytes | None, secret: str, *,
           tolerance: float = DEFAULT_TOLERANCE, now: float | None = None) -> dict[str, Any]:
    """Check a delivery and return its parsed event (a dict shaped like `GET /render/{jobId}`).

    Raises `WebhookVerificationError` whose `.reason` is one of `missing_header`,
    `malformed_header`, `no_signature`, `signature_mismatch`, `timestamp_too_old`,
    `timestamp_in_future`, `invalid_json`. `now` is unix seconds (default: the clock).
    """
    if not isinstance(secret, str):
        raise TypeError(f"verify(secret=...) must be the webhook secret (whsec_...) as a str, not {type(secret).__name__}")
    if not secret:
        raise ValueError("verify() needs the webhook secret (whsec_...), shown when the key was created")
    if not isinstance(payload, (bytes, bytearray, memoryview, str)):
        raise TypeError(f"verify(payload=...) must be the raw request body as bytes (or str), "
                        f"not {type(payload).__name__}")
    if isinstance(signature_header, (bytes, bytearray)):  # some frameworks hand headers over as bytes
        signature_header = bytes(signature_header).decode("latin-1")
    elif signature_header is not None and not isinstance(signature_header, str):
        raise TypeError(f"verify(signature_header=...) must be the {SIGNATURE_HEADER} header as str or bytes, "
                        f"not {type(signature_header).__name__}")
    try:
        body = _as_bytes(payload)
    except UnicodeEncodeError:
        raise WebhookVerificationError(
            "signature_mismatch", "The webhook body is not valid text, so no signature can match: pass the raw "
                                  "body bytes.") from None
    timestamp, candidates = _parse_header(signature_header)
    expected = _signature(body, secret, timestamp).encode("ascii")
    matched = False
    for candidate in candidates:  # no early exit: every candidate costs the same comparison
        matched |= hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
    if not matched:
        raise WebhookVerificationError(
            "signature_mismatch",
            "No webhook signature matches: check the webhook secret and verify the raw body before any parsing.")
    age = (time.time() if now is None else now) - timestamp
    if age > tolerance:
        raise WebhookVerificationError(
            "timestamp_too_old",
            f"Webhook timestamp is {age:.0f} s old (tolerance {tolerance:g} s): reject it as a possible replay.")
    if age < -tolerance:
        raise WebhookVerificationError(
            "timestamp_in_future",
            f"Webhook timestamp is {-age:.0f} s in the future (tolerance {tolerance:g} s): check this machine's clock.")
    try:
        event = json.loads(body)
    except ValueError:
        event = None
    if not isinstance(event, dict):
        raise WebhookVerificationError("invalid_json", "The webhook body is not a JSON object: reject the request.")
    return event

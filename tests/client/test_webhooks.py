"""Webhook signing and verification against HMAC-SHA256 vectors computed independently."""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from kodisc_jupyter import Job
from kodisc_jupyter.webhooks import WebhookVerificationError, sign, verify

SECRET = "whsec_test_secret"
T = 1714324442
BODY = b'{"jobId":"clx9f0a1b0000abcd1234efgh","status":"completed"}'
# Computed once with: printf '%s' '1714324442.<BODY>' | openssl dgst -sha256 -hmac whsec_test_secret
OPENSSL_V1 = "05e68944619c9cf2efa2bdf0745d432f27beef4a0986dfff8c887744fbd3e7bf"
# ... and the same with -hmac whsec_old_secret (a rotated-out secret).
OPENSSL_OLD_V1 = "8ed601ad9c877ecfb9c3543c15b8279fb2256c2dcb6774278863c132df50edd7"


def reference_signature(body: bytes, secret: str, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_sign_matches_the_openssl_vector():
    assert sign(BODY, SECRET, T) == f"t={T},v1={OPENSSL_V1}"
    assert reference_signature(BODY, SECRET, T) == OPENSSL_V1


@pytest.mark.parametrize("body", [BODY, b"{}", json.dumps({"emoji": "\u2728", "n": [1, 2.5]}).encode()])
def test_sign_matches_hmac_for_any_body(body):
    secret = "whsec_\u00e9"
    assert sign(body, secret, 42) == f"t=42,v1={reference_signature(body, secret, 42)}"


def test_verify_returns_the_event():
    event = verify(BODY, f"t={T},v1={OPENSSL_V1}", SECRET, now=T + 10)
    assert event == {"jobId": "clx9f0a1b0000abcd1234efgh", "status": "completed"}


def test_a_full_job_event_parses_into_a_job():
    body = json.dumps({"jobId": "j1", "endpoint": "render", "status": "failed", "creditsCost": 0, "durationMs": 10,
                       "result": None, "error": "boom", "metadata": {"a": 1}, "createdAt": "2026-04-28T17:14:02.118Z",
                       "completedAt": "2026-04-28T17:14:03.000Z"}).encode()
    event = verify(body, sign(body, SECRET, T), SECRET, now=T)
    assert Job.from_dict(event).error == "boom"


def test_rotation_any_v1_may_match_and_parts_split_on_the_first_equals():
    header = f"t={T}, v1={'0' * 64}, v1={OPENSSL_OLD_V1}, v0=legacy, scheme=a=b, junk"
    assert verify(BODY, header, "whsec_old_secret", now=T)["status"] == "completed"
    assert verify(BODY, f"v1={OPENSSL_V1},t={T}", SECRET, now=T)  # order does not matter


@pytest.mark.parametrize("header, now, reason", [
    (None, T, "missing_header"),
    ("", T, "missing_header"),
    (f"v1={OPENSSL_V1}", T, "malformed_header"),
    (f"t=yesterday,v1={OPENSSL_V1}", T, "malformed_header"),
    (f"t={T},t={T},v1={OPENSSL_V1}", T, "malformed_header"),
    (f"t={T}", T, "no_signature"),
    (f"t={T},v0={OPENSSL_V1}", T, "no_signature"),
    (f"t={T},v1={OPENSSL_OLD_V1}", T, "signature_mismatch"),
    (f"t={T + 1},v1={OPENSSL_V1}", T, "signature_mismatch"),
    (f"t={T},v1=\u00e9\u00e9", T, "signature_mismatch"),
    (f"t={T},v1={OPENSSL_V1}", T + 301, "timestamp_too_old"),
    (f"t={T},v1={OPENSSL_V1}", T - 301, "timestamp_in_future"),
])
def test_each_rejection_has_its_reason(header, now, reason):
    with pytest.raises(WebhookVerificationError) as caught:
        verify(BODY, header, SECRET, now=now)
    assert caught.value.reason == reason
    assert "\n" not in str(caught.value) and SECRET not in str(caught.value)


def test_tampered_body_is_rejected():
    with pytest.raises(WebhookVerificationError) as caught:
        verify(BODY.replace(b"completed", b"failed"), f"t={T},v1={OPENSSL_V1}", SECRET, now=T)
    assert caught.value.reason == "signature_mismatch"


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_signed_body_that_is_not_a_json_object(body):
    with pytest.raises(WebhookVerificationError) as caught:
        verify(body, sign(body, SECRET, T), SECRET, now=T)
    assert caught.value.reason == "invalid_json"


def test_tolerance_is_configurable_and_inclusive():
    header = f"t={T},v1={OPENSSL_V1}"
    assert verify(BODY, header, SECRET, now=T + 300)
    assert verify(BODY, header, SECRET, now=T + 3000, tolerance=3600)
    with pytest.raises(WebhookVerificationError, match="old"):
        verify(BODY, header, SECRET, now=T + 11, tolerance=10)


def test_default_now_is_the_clock():
    assert verify(BODY, sign(BODY, SECRET), SECRET)["status"] == "completed"
    with pytest.raises(WebhookVerificationError):
        verify(BODY, f"t={T},v1={OPENSSL_V1}", SECRET)  # 2024 is long past


def test_header_as_bytes_is_accepted_and_a_missing_secret_is_named():
    assert verify(BODY, f"t={T},v1={OPENSSL_V1}".encode(), SECRET, now=T)["status"] == "completed"
    with pytest.raises(ValueError, match="webhook secret"):
        verify(BODY, f"t={T},v1={OPENSSL_V1}", "", now=T)
    for secret in (None, SECRET.encode()):  # a wrong type is a TypeError naming the parameter
        with pytest.raises(TypeError, match=r"verify\(secret=\.\.\.\) must be the webhook secret"):
            verify(BODY, f"t={T},v1={OPENSSL_V1}", secret, now=T)

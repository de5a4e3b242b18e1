"""Every API route and error of the local server, over loopback HTTP: through our client, and raw for exact bodies."""
from __future__ import annotations

import json

import httpx
import pytest
from server_helpers import HELLO

from kodisc_jupyter.client import AuthenticationError, Job, Kodisc, NotFoundError, RenderFailedError
from kodisc_jupyter.contract._rules import MAX_BODY_BYTES, format_timestamp

JOB_FIELDS = {"jobId", "endpoint", "status", "creditsCost", "durationMs", "result", "error", "metadata",
              "createdAt", "completedAt"}
CODE = "from manim import *\nclass Hello(Scene):\n    def construct(self):\n        self.wait(0.1)\n"


def assert_error(response: httpx.Response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and body["message"]
    for word in words:
        assert word in body["message"], body
    return body


def test_render_and_wait_through_the_client(owner, sim_server):
    job = owner.kodisc.render_and_wait(HELLO, "Hello", quality="low", metadata={"lesson": 3}, timeout=30)
    assert job.status == "completed" and job.metadata == {"lesson": 3}
    assert job.duration_ms > 0 and job.credits_cost >= 1 and job.created_at <= job.completed_at
    assert owner.kodisc.download(job.result.video)[4:8] == b"ftyp"
    assert owner.kodisc.download(job.result.captions).startswith(b"WEBVTT")
    assert owner.kodisc.download(job.result.thumbnail)[:2] == b"\xff\xd8"


def test_post_answers_202_with_the_contract_body(owner):
    response = owner.post({"code": CODE, "className": "Hello"})
    assert response.status_code == 202
    assert response.json() == {"jobId": response.json()["jobId"], "status": "queued", "endpoint": "render"}
    job_id = response.json()["jobId"]
    assert len(job_id) == 25 and job_id.isalnum() and job_id.islower()


def test_job_lifecycle_and_exact_shape(owner):
    job_id = owner.submit(metadata={"simulate": {"seconds": 0.5}, "lesson": [1, "two"]})
    first = owner.raw_job(job_id)
    assert set(first) == JOB_FIELDS
    assert first["status"] in ("queued", "running") and first["endpoint"] == "render"
    assert first["creditsCost"] == 0 and first["durationMs"] is None and first["completedAt"] is None
    assert first["result"] is None and first["error"] is None
    assert first["metadata"] == {"simulate": {"seconds": 0.5}, "lesson": [1, "two"]}

    owner.wait(job_id)
    done = owner.raw_job(job_id)
    assert set(done) == JOB_FIELDS and done["status"] == "completed" and done["error"] is None
    assert done["durationMs"] >= 500 and done["creditsCost"] >= 1
    parsed = Job.from_dict(done)
    assert (done["createdAt"], done["completedAt"]) == (format_timestamp(parsed.created_at),
                                                      format_timestamp(parsed.completed_at))
    assert parsed.created_at <= parsed.completed_at
    base = owner.server.base_url.removesuffix("/api/v2")
    assert done["result"] == {"video": f"{base}/r/{job_id}/video.mp4", "thumbnail": f"{base}/r/{job_id}/thumb.jpg",
                              "captions": f"{base}/r/{job_id}/captions.vtt"}


def test_a_failed_scene_is_a_failed_job_not_an_http_error(owner):
    job = owner.wait(owner.submit(metadata={"simulate": {"fail": "boom in construct"}}))
    assert job.status == "failed" and "boom in construct" in job.error
    assert job.result is None and job.credits_cost == 0 and job.completed_at is not None
    with pytest.raises(RenderFailedError):
        owner.kodisc.render_and_wait(HELLO, "Hello", quality="low", metadata={"simulate": {"fail": True}})


def test_a_failed_jobs_error_never_carries_a_full_key(owner):
    key = "kdsc_live_" + "5e" * 24  # e.g. `raise ValueError(API_KEY)` in the user's scene
    job_id = owner.submit(metadata={"simulate": {"fail": f"bad key {key} in construct"}})
    owner.wait(job_id)
    error = owner.raw_job(job_id)["error"]
    assert key not in error and f"bad key {key[:14]}… in construct" in error


def test_me_reports_key_prefix_and_balance(owner, sim_server):
    account = owner.kodisc.me()
    assert account.key_prefix == sim_server.api_key[:14]
    assert account.credits.total == account.credits.paid + account.credits.free
    raw = owner.http.get("/me").json()
    assert set(raw) == {"userId", "keyId", "keyPrefix", "credits"}
    assert sim_server.api_key not in json.dumps(raw)


@pytest.mark.parametrize("headers, word", [
    ({}, "Missing"),
    ({"Authorization": "Bearer kdsc_live_123"}, "Malformed"),
    ({"Authorization": "Basic kdsc_live_" + "a" * 48}, "Malformed"),
    ({"Authorization": "Bearer kdsc_live_" + "0" * 48}, "Unknown"),
])
def test_every_api_route_needs_a_valid_key(sim_server, headers, word):
    with httpx.Client(base_url=sim_server.base_url, headers=headers) as http:
        for response in (http.get("/me"), http.get("/render/c" + "a" * 24),
                         http.post("/render", json={"code": CODE, "className": "Hello"})):
            body = assert_error(response, 401, word)
            assert "kdsc_live_" + "0" * 48 not in json.dumps(body)


def test_the_client_reports_an_unknown_key(sim_server):
    before = sim_server.job_count()
    with Kodisc("kdsc_live_" + "0" * 48, base_url=sim_server.base_url) as client:
        for call in (client.me, lambda: client.get_job("c" + "a" * 24), lambda: client.render(HELLO, "Hello")):
            with pytest.raises(AuthenticationError) as caught:
                call()
            assert caught.value.status_code == 401 and "0" * 48 not in str(caught.value)
    assert sim_server.job_count() == before


def test_another_users_job_is_404(owner, stranger):
    job_id = owner.submit()
    with pytest.raises(NotFoundError) as caught:
        stranger.job(job_id)
    assert caught.value.status_code == 404
    assert_error(stranger.http.get(f"/render/{job_id}"), 404, job_id)
    assert owner.job(job_id).job_id == job_id


def test_unknown_job_is_404(owner):
    with pytest.raises(NotFoundError):
        owner.job("c" + "0" * 24)
    for job_id in ("nope", "c" + "A" * 24, "c" + "0" * 30, "%2e%2e"):
        assert_error(owner.http.get(f"/render/{job_id}"), 404)


@pytest.mark.parametrize("body, field", [
    ({"className": "Hello"}, "code"),
    ({"code": "", "className": "Hello"}, "code"),
    ({"code": 5, "className": "Hello"}, "code"),
    ({"code": CODE}, "className"),
    ({"code": CODE, "className": "9Hello"}, "className"),
    ({"code": CODE, "className": "Hello-World"}, "className"),
    ({"code": CODE, "className": "Hello", "quality": "ultra"}, "quality"),
    ({"code": CODE, "className": "Hello", "aspectRatio": "4:3"}, "aspectRatio"),
    ({"code": CODE, "className": "Hello", "fps": 0}, "fps"),
    ({"code": CODE, "className": "Hello", "fps": 29.97}, "fps"),
    ({"code": CODE, "className": "Hello", "fps": "30"}, "fps"),
    ({"code": CODE, "className": "Hello", "webhookUrl": "http://example.com/hook"}, "webhookUrl"),
    ({"code": CODE, "className": "Hello", "webhookUrl": "ftp://example.com/hook"}, "webhookUrl"),
    ([1, 2], "body"),
])
def test_invalid_bodies_are_400_naming_the_field(owner, sim_server, body, field):
    """Raw requests: our client refuses these before sending, so the server's own checks are tested here."""
    before = sim_server.job_count()
    assert assert_error(owner.post(body), 400, field)["field"] == field
    assert sim_server.job_count() == before


def test_malformed_json_is_400(owner, sim_server):
    before = sim_server.job_count()
    assert_error(owner.post(content=b'{"code": "x", ', headers={"content-type": "application/json"}), 400, "JSON")
    assert_error(owner.post(content=b"\xff\xfe", headers={"content-type": "application/json"}), 400, "JSON")
    assert sim_server.job_count() == before


def test_oversize_body_is_rejected_by_content_length(owner, sim_server):
    before = sim_server.job_count()
    assert_error(owner.post({"code": "#" * (MAX_BODY_BYTES + 10), "className": "Hello"}), 400, str(MAX_BODY_BYTES))
    assert sim_server.job_count() == before


def test_oversize_streamed_body_without_content_length_is_rejected(owner, sim_server):
    """A chunked upload declares no size: the server counts the bytes as they arrive."""
    chunk = b" " * 65536

    def stream():
        yield b'{"className": "Hello", "code": "'
        for _ in range(MAX_BODY_BYTES // len(chunk) + 2):
            yield chunk
        yield b'"}'

    before = sim_server.job_count()
    response = owner.post(content=stream(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_error(response, 400, str(MAX_BODY_BYTES))
    assert sim_server.job_count() == before


def test_a_body_just_under_the_cap_is_accepted(owner):
    code = HELLO + "#" * (MAX_BODY_BYTES - len(HELLO) - 200)
    assert owner.kodisc.render(code, "Hello", quality="low").status == "queued"


def test_unknown_routes_and_methods_answer_json_errors(owner):
    assert_error(owner.http.get("/nothing-here"), 404)
    assert_error(owner.http.delete("/me"), 405)
    assert_error(owner.http.get("/render"), 405)
    assert_error(owner.http.get("/me/"), 404, "/api/v2/me/")  # no bodiless redirect to /me

"""Every API route and error of the local server, over loopback HTTP, against the contract."""
from __future__ import annotations

import json

import httpx
import pytest

from kodisc_jupyter.client._contract import MAX_BODY_BYTES, parse_timestamp

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


def test_post_answers_202_with_the_contract_body(api):
    response = api.post({"code": CODE, "className": "Hello"})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and body["endpoint"] == "render"
    assert len(body["jobId"]) == 25 and body["jobId"].isalnum()


def test_job_lifecycle_and_shape(api):
    job_id = api.submit(metadata={"simulate": {"seconds": 0.5}, "lesson": [1, "two"]})
    first = api.job(job_id)
    assert set(first) == JOB_FIELDS
    assert first["status"] in ("queued", "running")
    assert first["creditsCost"] == 0 and first["durationMs"] is None and first["completedAt"] is None
    assert first["result"] is None and first["error"] is None
    assert first["metadata"] == {"simulate": {"seconds": 0.5}, "lesson": [1, "two"]}

    done = api.wait(job_id)
    assert set(done) == JOB_FIELDS
    assert done["status"] == "completed" and done["error"] is None
    assert done["durationMs"] >= 500 and done["creditsCost"] >= 1
    created, completed = parse_timestamp(done["createdAt"]), parse_timestamp(done["completedAt"])
    assert created <= completed
    for stamp in (done["createdAt"], done["completedAt"]):  # 2026-04-28T17:14:02.118Z
        assert len(stamp) == 24 and stamp[10] == "T" and stamp[19] == "." and stamp.endswith("Z")
    base = api.server.base_url.removesuffix("/api/v2")
    assert done["result"] == {name: f"{base}/r/{job_id}/{file}" for name, file in
                              [("video", "video.mp4"), ("thumbnail", "thumb.jpg"), ("captions", "captions.vtt")]}


def test_simulated_failure_is_200_failed_with_error(api):
    done = api.wait(api.submit(metadata={"simulate": {"fail": "boom in construct"}}))
    assert done["status"] == "failed"
    assert "boom in construct" in done["error"]
    assert done["result"] is None and done["creditsCost"] == 0 and done["completedAt"] is not None


def test_me_reports_key_prefix_and_balance(api, sim_server):
    me = api.me()
    assert set(me) == {"userId", "keyId", "keyPrefix", "credits"}
    assert me["keyPrefix"] == sim_server.api_key[:14]
    assert sim_server.api_key not in json.dumps(me)
    credits = me["credits"]
    assert credits["total"] == credits["paid"] + credits["free"]


@pytest.mark.parametrize("headers, word", [
    ({}, "Missing"),
    ({"Authorization": "Bearer kdsc_live_123"}, "Malformed"),
    ({"Authorization": "Basic " + "kdsc_live_" + "a" * 48}, "Malformed"),
    ({"Authorization": "Bearer kdsc_live_" + "0" * 48}, "Unknown"),
])
def test_every_api_route_needs_a_valid_key(sim_server, headers, word):
    with httpx.Client(base_url=sim_server.base_url, headers=headers) as http:
        for response in (http.get("/me"), http.get("/render/c" + "a" * 24),
                         http.post("/render", json={"code": CODE, "className": "Hello"})):
            body = assert_error(response, 401, word)
            assert "kdsc_live_" + "0" * 48 not in json.dumps(body)


def test_another_users_job_is_404(api, other_api):
    job_id = api.submit()
    assert_error(other_api.http.get(f"/render/{job_id}"), 404, job_id)
    assert api.job(job_id)["jobId"] == job_id


@pytest.mark.parametrize("job_id", ["c" + "0" * 24, "nope", "c" + "A" * 24, "../../me"])
def test_unknown_job_is_404(api, job_id):
    assert_error(api.http.get(f"/render/{job_id}"), 404)


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
def test_invalid_bodies_are_400_naming_the_field(api, sim_server, body, field):
    before = sim_server.job_count()
    body_json = assert_error(api.post(body), 400, field)
    assert body_json["field"] == field
    assert sim_server.job_count() == before


def test_malformed_json_is_400(api, sim_server):
    before = sim_server.job_count()
    assert_error(api.post(content=b'{"code": "x", ', headers={"content-type": "application/json"}), 400, "JSON")
    assert_error(api.post(content=b"\xff\xfe", headers={"content-type": "application/json"}), 400, "JSON")
    assert sim_server.job_count() == before


def test_oversize_body_is_rejected_by_content_length(api, sim_server):
    before = sim_server.job_count()
    body = {"code": "#" * (MAX_BODY_BYTES + 10), "className": "Hello"}
    assert_error(api.post(body), 400, str(MAX_BODY_BYTES))
    assert sim_server.job_count() == before


def test_oversize_streamed_body_without_content_length_is_rejected(api, sim_server):
    """A chunked upload has no Content-Length: the server counts bytes as they arrive."""
    chunk = b" " * 65536

    def stream():
        yield b'{"className": "Hello", "code": "'
        for _ in range(MAX_BODY_BYTES // len(chunk) + 2):
            yield chunk
        yield b'"}'

    before = sim_server.job_count()
    response = api.post(content=stream(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_error(response, 400, str(MAX_BODY_BYTES))
    assert sim_server.job_count() == before


def test_body_just_under_the_cap_is_accepted(api):
    code = CODE + "#" * (MAX_BODY_BYTES - len(CODE) - 200)
    assert api.post({"code": code, "className": "Hello", "quality": "low"}).status_code == 202


def test_unknown_routes_and_methods_answer_json_errors(api):
    assert_error(api.http.get("/nothing-here"), 404)
    assert_error(api.http.delete("/me"), 405)
    assert_error(api.http.get("/render"), 405)

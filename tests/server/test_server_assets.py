"""The rendered files at /r/{jobId}/...: types, CORS, ranges, and no way out of the job's folder."""
from __future__ import annotations

import http.client
import io
from urllib.parse import urlsplit

import av
import httpx
import pytest
from PIL import Image
from server_helpers import User


@pytest.fixture(scope="module")
def finished(sim_server):
    """A completed simulated job and its result URLs."""
    user = User(sim_server)
    try:
        job = user.wait(user.submit())
    finally:
        user.close()
    assert job.status == "completed", job
    return job


@pytest.mark.parametrize("field, content_type", [
    ("video", "video/mp4"), ("thumbnail", "image/jpeg"), ("captions", "text/vtt")])
def test_assets_need_no_key_and_carry_type_and_cors(finished, field, content_type):
    response = httpx.get(getattr(finished.result, field))
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == content_type
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["x-content-type-options"] == "nosniff"  # a scene's bytes are never sniffed as HTML
    assert int(response.headers["content-length"]) == len(response.content) > 0


def test_asset_files_are_real_media(finished):
    video = httpx.get(finished.result.video).content
    with av.open(io.BytesIO(video)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert sum(1 for _ in container.decode(video=0)) > 0
    image = Image.open(io.BytesIO(httpx.get(finished.result.thumbnail).content))
    assert image.format == "JPEG" and image.width > 0
    captions = httpx.get(finished.result.captions).text
    assert captions.startswith("WEBVTT") and "-->" in captions


def test_video_supports_range_requests(finished):
    whole = httpx.get(finished.result.video).content
    part = httpx.get(finished.result.video, headers={"Range": "bytes=10-49"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 10-49/{len(whole)}"
    assert part.content == whole[10:50]
    assert part.headers["access-control-allow-origin"] == "*"
    tail = httpx.get(finished.result.video, headers={"Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.content == whole[-16:]


def test_cors_preflight_for_assets(finished):
    response = httpx.options(finished.result.captions, headers={
        "Origin": "http://example.org", "Access-Control-Request-Method": "GET"})
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"


def raw_get(base_url: str, path: str) -> tuple[int, bytes]:
    """GET with the path sent byte for byte (httpx would normalise `..` away)."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_paths_never_leave_the_job_folder(finished, sim_server):
    job_id = finished.job_id
    attempts = [
        f"/r/{job_id}/../../server.sqlite3",
        f"/r/{job_id}/..%2F..%2Fserver.sqlite3",
        f"/r/{job_id}/%2e%2e%2f%2e%2e%2fowner.json",
        "/r/../owner.json",
        "/r/..%2F/owner.json",
        f"/r/{job_id}/owner.json",
        f"/r/{job_id}/scene.py",
        f"/r/{job_id}/render.log",
        "/r/samples/video.mp4",
        "/r/%2e%2e/server.sqlite3",
        "/r/" + job_id.upper() + "/video.mp4",
        "/server.sqlite3",
        "/owner.json",
    ]
    for path in attempts:
        status, body = raw_get(sim_server.base_url, path)
        assert status in (400, 404), (path, status)
        assert sim_server.api_key.encode() not in body and sim_server.webhook_secret.encode() not in body
        assert b"SQLite format" not in body


def test_unknown_job_files_are_404_with_cors(finished):
    missing = finished.result.video.replace(finished.job_id, "c" + "0" * 24)
    response = httpx.get(missing)
    assert response.status_code == 404
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json()["error"] == "not_found"


def test_head_requests_describe_assets_without_a_body(finished):
    response = httpx.head(finished.result.video)
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-type"] == "video/mp4"
    assert int(response.headers["content-length"]) == len(httpx.get(finished.result.video).content)


def test_a_missing_asset_is_not_sniffed_either(finished):
    response = httpx.get(finished.result.video.replace("video.mp4", "thumb.png"))
    assert response.status_code == 404 and response.headers["x-content-type-options"] == "nosniff"

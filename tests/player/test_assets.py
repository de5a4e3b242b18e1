"""Saving a finished job's files: from the real local server, and from a plain static server for
the cases the Kodisc server never produces (an empty or cue-less captions file)."""
from __future__ import annotations

import dataclasses
import functools
import http.server
import threading
from datetime import datetime, timezone

import httpx
import pytest

from kodisc_jupyter.client import APIError, AsyncKodisc, Job, Kodisc, RenderResult
from kodisc_jupyter.rendering.assets import Assets, afetch_assets, fetch_assets, media_dir, vtt_has_cues

SCENE = "from manim import *\n\nclass Hello(Scene):\n    def construct(self):\n        self.add(Dot())\n"


@pytest.fixture(scope="module")
def finished_job(sim_server) -> Job:
    with Kodisc(sim_server.api_key, base_url=sim_server.base_url) as client:
        job = client.render_and_wait(SCENE, "Hello", quality="low", timeout=60)
    assert job.status == "completed" and job.result is not None
    return job


@pytest.fixture
def client(sim_server):
    with Kodisc(sim_server.api_key, base_url=sim_server.base_url) as client:
        yield client


@pytest.fixture
def static_server(tmp_path):
    """Serves tmp_path/static over loopback HTTP; yields (folder, base URL)."""
    folder = tmp_path / "static"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_saves_the_three_files_under_media_job_id(client, finished_job, isolated_kodisc_env):
    assets = fetch_assets(client, finished_job)
    folder = isolated_kodisc_env / "media" / finished_job.job_id
    assert assets == Assets(video=folder / "video.mp4", thumbnail=folder / "thumb.jpg", captions=folder / "captions.vtt")
    for path, url in [(assets.video, finished_job.result.video), (assets.thumbnail, finished_job.result.thumbnail),
                      (assets.captions, finished_job.result.captions)]:
        assert path.read_bytes() == httpx.get(url).content
    assert vtt_has_cues(assets.captions.read_text())
    assert sorted(p.name for p in folder.iterdir()) == ["captions.vtt", "thumb.jpg", "video.mp4"]  # no temp files


def test_files_already_saved_are_not_downloaded_again(client, finished_job, tmp_path):
    first = fetch_assets(client, finished_job, tmp_path / "media")
    first.video.write_bytes(b"kept: a download would have replaced this")
    again = fetch_assets(client, finished_job, tmp_path / "media")
    assert again == first
    assert first.video.read_bytes() == b"kept: a download would have replaced this"


async def test_async_twin_saves_the_same_files(sim_server, finished_job, tmp_path):
    async with AsyncKodisc(sim_server.api_key, base_url=sim_server.base_url) as client:
        assets = await afetch_assets(client, finished_job, tmp_path / "async")
    assert assets.video.read_bytes() == httpx.get(finished_job.result.video).content
    assert assets.thumbnail.is_file() and vtt_has_cues(assets.captions.read_text())


def test_a_job_without_captions_url_has_no_captions(client, finished_job, tmp_path):
    job = dataclasses.replace(finished_job, result=dataclasses.replace(finished_job.result, captions=None))
    assets = fetch_assets(client, job, tmp_path)
    assert assets.video.is_file() and assets.captions is None
    assert not (tmp_path / "captions.vtt").exists()


def test_a_captions_url_that_answers_404_means_no_captions(client, finished_job, tmp_path):
    missing = finished_job.result.captions.rsplit("/", 1)[0] + "/no-such-file.vtt"
    job = dataclasses.replace(finished_job, result=dataclasses.replace(finished_job.result, captions=missing))
    assert fetch_assets(client, job, tmp_path).captions is None


@pytest.mark.parametrize("content", [b"", b"WEBVTT\n\n", b"   \n"])
def test_empty_or_cueless_captions_mean_no_captions(client, static_server, tmp_path, content):
    folder, base = static_server
    (folder / "v.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    (folder / "c.vtt").write_bytes(content)
    job = Job(job_id="static1", status="completed", created_at=datetime.now(timezone.utc),
              result=RenderResult(video=f"{base}/v.mp4", thumbnail=None, captions=f"{base}/c.vtt"))
    assets = fetch_assets(client, job, tmp_path / "out")
    assert assets.video.read_bytes() == b"\x00\x00\x00\x18ftypmp42"
    assert assets.thumbnail is None and assets.captions is None


def test_a_video_that_cannot_be_downloaded_is_an_error(client, finished_job, tmp_path):
    missing = finished_job.result.video.rsplit("/", 1)[0] + "/gone.mp4"
    job = dataclasses.replace(finished_job, result=dataclasses.replace(finished_job.result, video=missing))
    with pytest.raises(APIError) as caught:
        fetch_assets(client, job, tmp_path)
    assert caught.value.status_code == 404
    assert not (tmp_path / "video.mp4").exists() and not list(tmp_path.glob(".*part"))


def test_media_dir_keeps_odd_job_ids_inside_media(isolated_kodisc_env):
    assert media_dir("clx9f0a1b0000abcd1234efgh") == isolated_kodisc_env / "media" / "clx9f0a1b0000abcd1234efgh"
    for hostile in ("../../etc", "a/b", "..", ".hidden", "x" * 300):
        folder = media_dir(hostile)
        assert folder.parent == isolated_kodisc_env / "media" and folder.name not in ("..", ".")
        assert "/" not in folder.name and not folder.name.startswith(".")


@pytest.mark.parametrize("text, expected", [
    ("WEBVTT\n\n00:00.000 --> 00:01.500\nHello\n", True),
    ("WEBVTT\n\n1\n01:02:03.004 --> 01:02:05.000 align:start\nHi\n", True),
    ("\ufeffWEBVTT\r\n\r\n00:00.000 --> 00:01.000\r\nCRLF\r\n", True),
    ("WEBVTT\n\nNOTE nothing here\n", False),
    ("WEBVTT\n", False),
    ("", False),
    ("an arrow --> in prose is not a cue", False),
])
def test_vtt_has_cues(text, expected):
    assert vtt_has_cues(text) is expected

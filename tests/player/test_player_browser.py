"""The player in a real Chromium, from file:// — once as emitted, once with its scripts stripped
(what an untrusted reopened notebook does to it)."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from kodisc_jupyter.jupyter.player import UNTRUSTED_HINT, data_url, player_html

pytestmark = pytest.mark.e2e

VTT = "WEBVTT\n\n00:00.000 --> 00:00.800\nA red square.\n"
WIDTH, HEIGHT = 64, 48


def make_mp4(path: Path) -> None:
    """Ten frames of solid red, H.264 in yuv420p: a real file any browser decodes."""
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("h264", rate=10)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        frame_rgb = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
        frame_rgb[..., 0] = 220
        for _ in range(10):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame_rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def make_jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (WIDTH, HEIGHT), (220, 0, 0)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def page_files(tmp_path_factory):
    """A folder with video.mp4 and two pages: the player as emitted, and with its scripts stripped."""
    folder = tmp_path_factory.mktemp("player page")  # a space in the path, as notebooks often have
    make_mp4(folder / "video.mp4")
    markup = player_html(video_src="video.mp4", poster_src=data_url(make_jpeg(), "image/jpeg"), captions_vtt=VTT,
                         title="Red <square>", summary="0.8 s · job test")
    template = "<!doctype html><html><head><meta charset='utf-8'></head><body>{}</body></html>"
    (folder / "player.html").write_text(template.format(markup), encoding="utf-8")
    stripped = re.sub(r"<script\b.*?</script>", "", markup, flags=re.DOTALL)
    assert stripped != markup
    (folder / "untrusted.html").write_text(template.format(stripped), encoding="utf-8")
    return folder


def open_page(chromium, path: Path):
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path.as_uri())
    page.wait_for_function("document.querySelector('video.kodisc-video').readyState >= 1", timeout=20_000)
    return page, errors


def video_state(page) -> dict:
    return page.evaluate("""() => {
        const video = document.querySelector('video.kodisc-video');
        return {width: video.videoWidth, height: video.videoHeight, poster: video.poster,
                error: video.error && video.error.code, tracks: video.textTracks.length,
                sources: video.querySelectorAll('source').length};
    }""")


def test_video_poster_and_captions_load_and_the_hint_is_removed(chromium, page_files):
    page, errors = open_page(chromium, page_files / "player.html")
    try:
        state = video_state(page)
        assert (state["width"], state["height"]) == (WIDTH, HEIGHT) and state["error"] is None
        assert state["poster"].startswith("data:image/jpeg;base64,") and state["sources"] == 0
        page.evaluate("() => { document.querySelector('video').textTracks[0].mode = 'showing'; }")
        page.wait_for_function(
            "(() => { const t = document.querySelector('video').textTracks[0]; return t.cues && t.cues.length > 0; })()",
            timeout=20_000)
        cue = page.evaluate("() => document.querySelector('video').textTracks[0].cues[0].text")
        assert cue == "A red square."
        assert page.locator(".kodisc-untrusted-hint").count() == 0
        assert page.locator(".kodisc-summary").inner_text() == "0.8 s · job test"
        assert page.locator("video").get_attribute("aria-label") == "Red <square>"
        assert errors == []
    finally:
        page.close()


def test_with_scripts_stripped_the_video_plays_and_the_hint_stays_visible(chromium, page_files):
    page, errors = open_page(chromium, page_files / "untrusted.html")
    try:
        state = video_state(page)
        assert (state["width"], state["height"]) == (WIDTH, HEIGHT) and state["error"] is None
        hint = page.locator(".kodisc-untrusted-hint")
        assert hint.count() == 1 and hint.is_visible()
        assert hint.inner_text() == UNTRUSTED_HINT
        assert errors == []
    finally:
        page.close()


def cloud_render(sim_server, monkeypatch, folder: Path, name: str):
    """A real render on the simulated server used as Kodisc (key + base URL), linked from `folder`/kodisc_media."""
    from kodisc_jupyter.jupyter.result import render

    monkeypatch.setenv("KODISC_API_KEY", sim_server.api_key)
    monkeypatch.setenv("KODISC_BASE_URL", sim_server.base_url)
    folder.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(folder)
    code = f"from manim import *\n\nclass {name}(Scene):\n    def construct(self):\n        self.add(Dot())\n"
    rendered = render(code, quality="low", metadata={"simulate": {"seconds": 0.2}}, backend="cloud")
    return rendered, rendered.html(embed=False)


def test_a_cloud_render_plays_from_its_cdn_url_when_its_folder_did_not_travel(chromium, sim_server, monkeypatch, tmp_path):
    rendered, markup = cloud_render(sim_server, monkeypatch, tmp_path / "author", "Travels")
    cdn = rendered.job.result.video
    assert cdn.startswith(sim_server.public_url) and 'src="kodisc_media/Travels-' in markup
    template = "<!doctype html><html><head><meta charset='utf-8'></head><body>{}</body></html>"
    (tmp_path / "author" / "page.html").write_text(template.format(markup), encoding="utf-8")
    (tmp_path / "e-mailed").mkdir()  # the page alone, as an attachment: no kodisc_media/ beside it
    (tmp_path / "e-mailed" / "page.html").write_text(template.format(markup), encoding="utf-8")
    # what JupyterLab's sanitizer leaves of an untrusted output: no on* handler, so no fallback
    untrusted = re.sub(r'\sonerror="[^"]*"', "", markup)
    (tmp_path / "e-mailed" / "untrusted.html").write_text(template.format(untrusted), encoding="utf-8")

    def played(path: Path) -> dict:
        page = chromium.new_page()
        try:
            page.goto(path.as_uri())
            page.wait_for_function("(() => { const v = document.querySelector('video.kodisc-video');"
                                   " return v.readyState >= 1 || v.error; })()", timeout=20_000)
            return page.evaluate("() => { const v = document.querySelector('video.kodisc-video');"
                                 " return {src: v.currentSrc, ready: v.readyState, width: v.videoWidth,"
                                 " error: v.error && v.error.code}; }")
        finally:
            page.close()

    at_home = played(tmp_path / "author" / "page.html")
    assert at_home["src"].startswith((tmp_path / "author" / "kodisc_media").as_uri()) and at_home["width"] > 0
    travelled = played(tmp_path / "e-mailed" / "page.html")
    assert travelled == {"src": cdn, "ready": travelled["ready"], "width": travelled["width"], "error": None}
    assert travelled["ready"] >= 1 and travelled["width"] > 0  # frames from the job's public URL
    stripped = played(tmp_path / "e-mailed" / "untrusted.html")
    assert stripped["error"] is not None and stripped["width"] == 0


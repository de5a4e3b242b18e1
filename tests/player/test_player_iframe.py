"""The Colab output in a real Chromium, framed as Colab frames outputs: a sandboxed `<iframe srcdoc>`
with an opaque origin, so nothing relative or same-origin can help. The embedded video must load
(a decoded frame: readyState >= 2) and its `data:` captions track must have cues; over the output
limit, the fallback to the render's public URL must play there too."""
from __future__ import annotations

import html
import sys
import types

import pytest

from kodisc_jupyter.server._sample_media import SAMPLE_CAPTION

pytestmark = pytest.mark.e2e

FRAME_STATE = """async () => {
    const video = document.querySelector('video.kodisc-video');
    video.currentTime = 0.5;  // a seek decodes a frame even with preload="metadata"
    const track = video.textTracks[0];
    if (track) track.mode = 'showing';
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline && (video.readyState < 2 || (track && !(track.cues && track.cues.length)))
           && !video.error) {
        await new Promise(resolve => setTimeout(resolve, 100));
    }
    return {ready: video.readyState, width: video.videoWidth, error: video.error && video.error.code,
            src: video.currentSrc.slice(0, 30), cues: track && track.cues ? Array.from(track.cues, c => c.text) : null,
            origin: window.origin};
}"""


@pytest.fixture
def colab_output(sim_server, monkeypatch, tmp_path):
    """`colab_output(name, **bundle_options)`: a cloud render on the simulated server, as Colab's kernel shows it."""
    from kodisc_jupyter.jupyter.result import render

    monkeypatch.setenv("KODISC_API_KEY", sim_server.api_key)
    monkeypatch.setenv("KODISC_BASE_URL", sim_server.base_url)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))

    def output(name: str, **options) -> dict:
        code = f"from manim import *\n\nclass {name}(Scene):\n    def construct(self):\n        self.add(Dot())\n"
        rendered = render(code, quality="low", metadata={"simulate": {"seconds": 0.1}}, backend="cloud")
        return rendered.bundle(**options)

    return output


def in_sandboxed_frame(chromium, markup: str, sandbox: str) -> dict:
    page = chromium.new_page()
    try:
        page.set_content(f'<!doctype html><iframe sandbox="{sandbox}" width="800" height="600" '
                         f'srcdoc="{html.escape(markup, quote=True)}"></iframe>')
        frame = next(frame for frame in page.frames if frame != page.main_frame)
        frame.wait_for_selector("video.kodisc-video", state="attached")
        return frame.evaluate(FRAME_STATE)
    finally:
        page.close()


def test_the_embedded_player_plays_with_captions_in_a_sandboxed_srcdoc_frame(chromium, colab_output):
    bundle = colab_output("InColab")
    assert 'src="data:video/mp4;base64,' in bundle["text/html"]
    # scripts allowed, as in Colab's output frames (without them Playwright cannot look inside the frame)
    state = in_sandboxed_frame(chromium, bundle["text/html"], "allow-scripts")
    assert state["origin"] == "null"  # an opaque origin, as strict as any output frame
    assert state["error"] is None and state["ready"] >= 2 and state["width"] > 0
    assert state["src"].startswith("data:video/mp4")
    assert state["cues"] == [SAMPLE_CAPTION]


def test_over_colabs_limit_the_frame_plays_the_public_url(chromium, colab_output, sim_server):
    bundle = colab_output("OverLimit", colab_max_mb=0.001)
    assert 'src="data:video/mp4' not in bundle["text/html"] and "over Colab's" in bundle["text/plain"]
    state = in_sandboxed_frame(chromium, bundle["text/html"], "allow-scripts")
    assert state["error"] is None and state["ready"] >= 2 and state["width"] > 0
    assert state["src"].startswith(sim_server.public_url[:30]) and state["cues"] == [SAMPLE_CAPTION]

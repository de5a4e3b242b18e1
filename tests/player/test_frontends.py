"""Where the video goes in each frontend: the embed defaults, the caps and their fallbacks, the AAC note.

Real media (the simulated renderer's H.264 sample, a PyAV-made AAC track); the caps are lowered
through the same settings `%config` sets, instead of rendering huge videos.
"""
from __future__ import annotations

import json
import re
import sys
import types
from datetime import datetime, timezone
from pathlib import Path

import pytest

from kodisc_jupyter import _mp4
from kodisc_jupyter.contract import Job, RenderResult
from kodisc_jupyter.jupyter import frontend
from kodisc_jupyter.jupyter.result import PORTABLE_HINT, SILENT_SOUND_NOTE, Rendered
from kodisc_jupyter.rendering import session
from kodisc_jupyter.rendering.backend import Backend
from kodisc_jupyter.rendering.pipeline import Outcome
from kodisc_jupyter.server._sample_media import ensure_sample_media

CDN = "https://cdn.kodisc.com/renders/abc/video.mp4"


def with_aac(path: Path) -> Path:
    """One second of H.264 with an AAC sound track, as Manim writes a scene with add_sound()."""
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=44100)
        for _ in range(10):
            container.mux(video.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")))
        for index in range(20):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, index * 1024
            container.mux(audio.encode(frame))
        container.mux(video.encode())
        container.mux(audio.encode())
    return path


@pytest.fixture
def media(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(session, "_current", session.Session())  # its own notices said once
    session.current().first_time(PORTABLE_HINT)  # tested in test_player_html
    return ensure_sample_media(tmp_path / "sample")


def rendered(media: Path, *, backend: str = "kodisc", video: Path | None = None) -> Rendered:
    url = CDN if backend == "kodisc" else "http://127.0.0.1:1/r/job/video.mp4"
    job = Job(job_id="job1234567", status="completed", created_at=datetime.now(timezone.utc), duration_ms=900,
              credits_cost=1.0, result=RenderResult(video=url))
    base = "https://kodisc.com/api/v2" if backend == "kodisc" else "http://127.0.0.1:1/api/v2"
    return Rendered(Outcome(job=job, backend=Backend(backend, base, None), class_name="Scene1", quality="low",
                            aspect_ratio="16:9", video=video or media / "video.mp4",
                            thumbnail=media / "thumb.jpg", captions=media / "captions.vtt"))


def video_src(bundle: dict) -> str | None:
    found = re.search(r'<video[^>]* src="([^"]+)"', bundle["text/html"])
    return found.group(1) if found else None


def stored(bundle: dict) -> int:
    """What the output weighs in the notebook: each MIME value as saved (our renderer's JSON dumped)."""
    return sum(len(value) if isinstance(value, str) else len(json.dumps(value)) for value in bundle.values())


@pytest.fixture
def vscode(monkeypatch):
    monkeypatch.setenv("VSCODE_PID", "4242")


@pytest.fixture
def colab(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))


def test_frontend_detection(monkeypatch):
    assert frontend.current() == frontend.JUPYTER
    monkeypatch.setenv("VSCODE_CWD", "/home/me")
    assert frontend.current() == frontend.VSCODE and frontend.in_vscode()
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert frontend.current() == frontend.COLAB  # Colab's own shell wins over an inherited variable


def test_jupyterlab_links_and_vscode_embeds_by_default(media, monkeypatch):
    assert video_src(rendered(media).bundle()) == "kodisc_media/Scene1-job12345.mp4"
    monkeypatch.setenv("VSCODE_PID", "4242")
    bundle = rendered(media).bundle()
    assert video_src(bundle).startswith("data:video/mp4;base64,")
    assert bundle["text/plain"].endswith("video: embedded in this notebook")
    assert video_src(rendered(media).bundle(embed=False)) == "kodisc_media/Scene1-job12345.mp4"  # asked for


def test_vscode_over_the_cap_links_and_says_how_to_watch(media, vscode):
    bundle = rendered(media).bundle(embed_max_mb=0.001)
    assert video_src(bundle) == "kodisc_media/Scene1-job12345.mp4"
    assert (Path("kodisc_media") / "Scene1-job12345.mp4").is_file()
    note = bundle["text/plain"].splitlines()[-1]
    assert "over the 0.001 MB embed cap" in note and "VS Code cannot play a linked file" in note
    assert "open kodisc_media/Scene1-job12345.mp4" in note and ".save(path)" in note


def test_colab_embeds_under_its_output_limit_counting_base64_poster_and_captions(media, colab):
    bundle = rendered(media).bundle()
    assert video_src(bundle).startswith("data:video/mp4;base64,")
    assert 'poster="data:image/jpeg;base64,' in bundle["text/html"] and "data:text/vtt;base64," in bundle["text/html"]
    size = stored(bundle)
    # the limit just below what the output weighs: the same render falls back instead
    for limit in (size - 1, size - 200):
        capped = rendered(media).bundle(colab_max_mb=limit / 10**6)
        assert video_src(capped) == CDN and stored(capped) <= limit
        assert "over Colab's" in capped["text/plain"] and "Kodisc's CDN" in capped["text/plain"]
    assert video_src(rendered(media).bundle(colab_max_mb=(size + 0.5) / 10**6)) == video_src(bundle)  # just fits


def test_colab_over_the_video_cap_uses_the_cdn_too(media, colab):
    bundle = rendered(media).bundle(embed_max_mb=0.001)
    assert video_src(bundle) == CDN and "embed cap" in bundle["text/plain"]
    assert bundle["text/plain"].splitlines()[1] == f"  video: {CDN}"


def test_colab_local_render_over_the_limit_is_one_line_and_no_dead_player(media, colab):
    bundle = rendered(media, backend="local").bundle(colab_max_mb=0.001)
    assert "<video" not in bundle["text/html"]
    note = bundle["text/plain"].splitlines()[-1]
    assert "over Colab's 0.001 MB output limit" in note and "kodisc_media/Scene1-job12345.mp4 (Files panel)" in note
    assert (Path("kodisc_media") / "Scene1-job12345.mp4").is_file()  # the file the line names
    assert stored(bundle) < 1000


def test_vscode_says_once_that_aac_sound_does_not_play(media, vscode, tmp_path):
    with_sound = with_aac(tmp_path / "sound.mp4")
    first = rendered(media, video=with_sound).bundle()
    assert SILENT_SOUND_NOTE in first["text/plain"] and video_src(first).startswith("data:video/mp4")
    assert SILENT_SOUND_NOTE not in rendered(media, video=with_sound).bundle()["text/plain"]


def test_no_sound_note_without_aac_or_outside_vscode(media, monkeypatch, tmp_path):
    with_sound = with_aac(tmp_path / "sound.mp4")
    assert SILENT_SOUND_NOTE not in rendered(media, video=with_sound).bundle()["text/plain"]  # JupyterLab plays AAC
    monkeypatch.setenv("VSCODE_PID", "4242")
    assert SILENT_SOUND_NOTE not in rendered(media).bundle()["text/plain"]  # picture only
    assert SILENT_SOUND_NOTE in rendered(media, video=with_sound).bundle()["text/plain"]  # not said yet


def test_mp4_track_types(media, tmp_path):
    assert _mp4.sample_entry_types(media / "video.mp4") == {"avc1"}
    sound = with_aac(tmp_path / "sound.mp4")
    assert _mp4.sample_entry_types(sound) == {"avc1", "mp4a"} and _mp4.has_aac_track(sound)
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(sound.read_bytes()[:40])
    (tmp_path / "text.mp4").write_text("WEBVTT\n")
    assert _mp4.sample_entry_types(truncated) == set() == _mp4.sample_entry_types(tmp_path / "text.mp4")
    assert _mp4.sample_entry_types(tmp_path / "missing.mp4") == set()

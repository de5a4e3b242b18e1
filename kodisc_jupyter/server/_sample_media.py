"""Tiny but real media for the simulated renderer: a 1 s 64x36 H.264 MP4, a JPEG and a one-cue WebVTT.

Made once with PyAV and Pillow (both come with Manim) and reused, so players and tests work
without running Manim.
"""
from __future__ import annotations

import threading
from pathlib import Path

SAMPLE_CAPTION = "Simulated render"
_lock = threading.Lock()


def ensure_sample_media(folder: Path) -> Path:
    """`folder` holding video.mp4, thumb.jpg and captions.vtt, created on first use."""
    with _lock:
        if not (folder / "captions.vtt").is_file():
            folder.mkdir(parents=True, exist_ok=True)
            _write_video(folder / "video.mp4", width=64, height=36, fps=15)
            _frame(64, 36, 255).save(folder / "thumb.jpg", "JPEG")
            (folder / "captions.vtt").write_text(
                f"WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.000\n{SAMPLE_CAPTION}\n\n", encoding="utf-8")
    return folder


def _frame(width: int, height: int, blue: int):
    from PIL import Image

    return Image.new("RGB", (width, height), (30, 60, blue))


def _write_video(path: Path, *, width: int, height: int, fps: int) -> None:
    import av

    partial = path.with_suffix(".partial.mp4")
    with av.open(str(partial), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(fps):
            frame = av.VideoFrame.from_image(_frame(width, height, 60 + index * 12))
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    partial.replace(path)

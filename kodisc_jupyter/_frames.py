"""A video's last frame, decoded with PyAV (Manim's own dependency; the server extra installs it).

The server writes it as each job's thumbnail; `%%kodisc -s` shows it as a PNG, as Manim's
`-s/--save_last_frame` does.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["last_frame"]


def last_frame(video: Path) -> Any:
    """The last frame as a PIL image, or None for a video without frames; decodes from the keyframe
    before the final second, not the whole video. Raises ImportError without PyAV."""
    import av

    last = None
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        if stream.duration and stream.time_base:
            container.seek(max(0, stream.duration - int(1 / stream.time_base)), stream=stream, backward=True)
        for frame in container.decode(stream):
            last = frame
    return None if last is None else last.to_image()

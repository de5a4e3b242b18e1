"""`%%kodisc -s`: the render's last frame as an image output, as Manim's `-s/--save_last_frame` shows it.

The frame is decoded from the video (the thumbnail's frame is not documented for Kodisc, and ours
is a lossy JPEG). Without PyAV (it comes with Manim) the thumbnail stands in, and a line says so.
"""
from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .result import Rendered

__all__ = ["last_frame_bundle"]


def last_frame_bundle(rendered: Rendered) -> tuple[dict[str, Any], str | None]:
    """The image output (`image/png`, or the thumbnail's `image/jpeg`) and a note when it is not the last frame."""
    from .._frames import last_frame
    from .player import player_text

    text = player_text(title=f"{rendered.class_name} (last frame)", summary=rendered.summary())
    image = None
    if rendered.video is not None:
        try:
            image = last_frame(rendered.video)
        except ImportError:
            image = None
    if image is not None:
        png = io.BytesIO()
        image.save(png, "PNG")
        return {"image/png": base64.b64encode(png.getvalue()).decode("ascii"), "text/plain": text}, None
    if rendered.thumbnail is None:
        return {"text/plain": text}, "The render has no video frame or thumbnail to show."
    jpeg = base64.b64encode(rendered.thumbnail.read_bytes()).decode("ascii")
    return ({"image/jpeg": jpeg, "text/plain": text},
            "This is the render's thumbnail: install PyAV (pip install av) to show the exact last frame.")

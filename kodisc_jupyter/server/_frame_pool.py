"""Manim's hand-off of each drawn frame to its encoder, with one copy instead of three into fresh memory.

Manim copies every drawn frame into a new array (`CairoRenderer.get_frame`), and its encoder has PyAV
copy that twice more (`VideoFrame.from_ndarray`: into a bytes object, then into a new AVFrame) before
converting it to the codec's pixel format. At 1080p that is three fresh 8 MB buffers a frame, and the
kernel clears the pages of each one: about a tenth of a `-qh` render's CPU time (docs/benchmarks.md, P8).
Here the drawn frame is copied once, into a buffer an encoder gave back, and the encoder converts it
in place. The pixels reaching the codec are the same, so the video is Manim's byte for byte.

A buffer comes back only from `PooledSegmentEncoder.write_frame`, after its frame was encoded: Manim's
writer owns every array given to `write_frame`, and the conversion copied it, so no one holds it any
more. A frame kept elsewhere (the static background of an animation, a still) is never given back, and
is freed as any array is.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np
from av.video.stream import VideoStream
from manim._config.video_encoder import VideoEncoderSpec
from manim.scene.scene_file_writer import SceneFileWriter
from manim.scene.video_segment_encoder import VideoSegmentEncoder

__all__ = ["FramePool", "PooledFileWriter"]


class FramePool:
    """Frame buffers going round between the drawing thread and the encoders' threads (list append and
    pop are atomic under the GIL). It holds no more buffers than were ever in flight at once."""

    def __init__(self) -> None:
        self._free: list[np.ndarray] = []

    def copy(self, pixels: np.ndarray) -> np.ndarray:
        """PIXELS copied into a free buffer, or into a new one when none is free."""
        try:
            frame = self._free.pop()
        except IndexError:
            frame = np.empty_like(pixels)
        if frame.shape != pixels.shape:  # a scene that changed its resolution: the old buffer is dropped
            frame = np.empty_like(pixels)
        np.copyto(frame, pixels)
        return frame

    def give_back(self, frame: np.ndarray) -> None:
        self._free.append(frame)


class PooledSegmentEncoder(VideoSegmentEncoder):
    """Manim's segment encoder, reading each frame in place and giving its buffer back once encoded."""

    def __init__(self, *, target: Path, spec: VideoEncoderSpec, pool: FramePool) -> None:
        super().__init__(target=target, spec=spec)
        self._pool = pool

    def write_frame(self, pixels: np.ndarray, *, repeat: int = 1) -> None:
        """As Manim's `write_frame`, but PyAV wraps PIXELS instead of copying them (twice) for each repeat."""
        self._validate_frame(pixels, repeat)
        stream = cast(VideoStream, self._stream)
        try:
            frame = av.VideoFrame.from_numpy_buffer(pixels, format="rgba")
            frame.time_base = Fraction(self.spec.frame_rate.denominator, self.spec.frame_rate.numerator)
            for _ in range(repeat):
                frame.pts = self._next_pts
                self._next_pts += 1
                for packet in stream.encode(frame):  # converted to the codec's format: a copy
                    self._container.mux(packet)
        except BaseException as error:
            raise self._operation_error("encode", error) from error
        self._pool.give_back(pixels)


class PooledFileWriter(SceneFileWriter):
    """Manim's file writer, whose partial movies encode through `PooledSegmentEncoder`."""

    pool: FramePool

    @classmethod
    def adopt(cls, writer: SceneFileWriter) -> FramePool:
        """Make the scene's own writer (set up by `Scene.__init__`) a pooled one; returns its pool. A
        writer of another class (a plugin's) stays as it is, and the pool then only ever lends new buffers."""
        pool = FramePool()
        if type(writer) is SceneFileWriter:
            writer.__class__ = cls
            assert isinstance(writer, PooledFileWriter)
            writer.pool = pool
        return pool

    def _create_segment_encoder(self, target: Path) -> VideoSegmentEncoder:
        spec = self.video_encoder
        if spec is None or spec.pixel_format == "rgba":
            # no conversion before the codec: FFmpeg would keep a reference to the buffer past `encode`
            return super()._create_segment_encoder(target)
        return PooledSegmentEncoder(target=target, spec=spec, pool=self.pool)

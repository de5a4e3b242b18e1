"""The workers' frame hand-off (`_frame_pool`): each frame drawn into a buffer its encoder gave back,
encoded in place, and the partial movie Manim's own encoder writes, byte for byte."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

pytestmark = pytest.mark.manim


def test_pooled_frames_are_encoded_in_place_into_manims_bytes(tmp_path):
    from manim._config.video_encoder import VideoEncoderSpec
    from manim.scene.video_segment_encoder import VideoSegmentEncoder

    from kodisc_jupyter.server._frame_pool import FramePool, PooledSegmentEncoder

    spec = VideoEncoderSpec("mp4", "libx264", "yuv420p", 64, 48, Fraction(15), (("crf", "23"),))
    rng = np.random.default_rng(7)
    drawn = [rng.integers(0, 256, (48, 64, 4), dtype=np.uint8) for _ in range(8)]
    manims = VideoSegmentEncoder(target=tmp_path / "manim.mp4", spec=spec)
    pool = FramePool()
    ours = PooledSegmentEncoder(target=tmp_path / "ours.mp4", spec=spec, pool=pool)
    buffers = set()
    for index, pixels in enumerate(drawn):
        repeat = 3 if index == 4 else 1  # a frozen frame, as a wait writes it
        manims.write_frame(pixels.copy(), repeat=repeat)
        frame = pool.copy(pixels)
        buffers.add(id(frame))
        ours.write_frame(frame, repeat=repeat)
    manims.finish()
    ours.finish()
    assert len(buffers) == 1  # every frame went into the one buffer the encoder kept giving back
    assert (tmp_path / "ours.mp4").read_bytes() == (tmp_path / "manim.mp4").read_bytes()


def test_a_frame_of_another_size_gets_a_new_buffer():
    from kodisc_jupyter.server._frame_pool import FramePool

    pool = FramePool()
    small = pool.copy(np.zeros((4, 6, 4), np.uint8))
    pool.give_back(small)
    large = pool.copy(np.full((8, 12, 4), 9, np.uint8))
    assert large.shape == (8, 12, 4) and (large == 9).all()
    assert large is not small

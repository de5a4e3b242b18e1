"""Manim's Cairo renderer, but an animation it does not render leaves the scene exactly as rendering it would.

Manim skips an animation (a cached one, or one outside `-n`) by jumping to its end in one step:
`dt` updaters then get one big `dt` instead of one per frame, the end-of-play `update_mobjects(0)`
is left out, and the scene's clock moves by the run time rather than by whole frames. The next
animation then starts from another state, gets another hash, and is rendered from that state,
so a re-render with a warm cache can differ from the first render. Here a skipped ("muted")
animation steps through every frame time like a rendered one and only leaves out drawing and
encoding, unless one step provably lands on the same state (`jumps_exactly`: no updaters, only
Manim's alpha-pure animations), and the clock moves frame by frame either way. Every partial
movie is therefore named by the hash of the state the bare CLI would start it from, which is what
lets a render be split across workers without changing its video.

A split render has one *final* worker, which walks the whole scene, hashes every animation and
combines the partial movies, and *helpers*, which render what they claim and nothing else. Before
rendering an animation a worker claims it from the server (`Claims`): the first to ask gets it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

import numpy as np
from manim import Mobject, config
from manim._config.video_encoder import video_encoder_fingerprint
from manim.renderer.cairo_renderer import CairoRenderer
from manim.utils.exceptions import EndSceneEarlyException
from manim.utils.hashing import get_hash_from_play_call

from ._frame_pool import FramePool, PooledFileWriter


class MissingPartials(Exception):
    """The final worker lacks a partial movie the split promised (a helper reached another state)."""


class Claims:
    """The worker's side of the server's arbiter: one line out (`c N`, `d`), one line back.

    `claim(n)` is True when this worker is the first to ask for animation n. The final worker's
    `finish()` says its walk is over and returns once every helper has ended and its partial movies
    are in the final worker's cache folder.
    """

    def __init__(self, out_fd: int, answers: IO[str]) -> None:
        self._out, self._answers = out_fd, answers

    def _ask(self, line: str) -> str:
        os.write(self._out, line.encode() + b"\n")
        answer = self._answers.readline().strip()
        if not answer:
            raise SystemExit("the server ended the split render")
        return answer

    def claim(self, index: int) -> bool:
        """Whether this worker renders animation `index`; a helper is told to end once the final worker's walk is over."""
        answer = self._ask(f"c {index}")
        if answer == "e":
            raise EndSceneEarlyException()  # Manim ends the scene as at the end of a `-n` range
        return answer == "1"

    def finish(self) -> None:
        if self._ask("d") != "g":
            raise SystemExit("the split render was stopped")


#: Manim's animations a one-step jump is exact for: each sets its mobjects from alpha and copies taken at
#: begin(), so the last interpolate(1) leaves the same floats however many steps came before. Only those
#: the regression test (tests/server/test_server_split.py, KINDS) renders and re-renders from cache with
#: the same hashes; others step. Not exact, for example: MoveAlongPath and Wiggle (they move from where the
#: last frame left them: the same point, other floats), PhaseFlow (the step since the last alpha).
_EXACT_JUMPS = frozenset({
    "Animation", "Wait", "AnimationGroup", "Succession", "LaggedStart", "LaggedStartMap",
    "Create", "Uncreate", "ShowPartial", "DrawBorderThenFill", "Write", "Unwrite", "SpiralIn",
    "FadeIn", "FadeOut", "GrowFromCenter", "GrowFromPoint", "GrowArrow", "Indicate", "Flash", "ShowPassingFlash",
    "Circumscribe", "ApplyWave", "Rotate", "Transform", "ReplacementTransform", "_MethodAnimation", "MoveToTarget"})


def jumps_exactly(scene: Any) -> bool:
    """Whether jumping to the end of the current animations in one step (as Manim skips) leaves exactly the
    state stepping through every frame does: no updater anywhere (mobjects, the animations' mobjects and
    targets, the scene), no stop condition, and only Manim's own animations of `_EXACT_JUMPS` (a user's subclass is never
    assumed exact). The end state is then `interpolate(1)` of the same copies, which both reach last."""
    if scene.updaters or getattr(scene, "stop_condition", None) is not None:
        return False
    if any(part.updaters for mobject in scene.mobjects for part in mobject.get_family()):
        return False
    pending = list(scene.animations or ())
    while pending:
        animation = pending.pop()
        kind = type(animation)
        if not kind.__module__.startswith("manim.animation.") or kind.__name__ not in _EXACT_JUMPS:
            return False
        # its mobject and target (the copies it takes are of these; a Succession's later parts have none yet)
        watched = (animation.mobject, getattr(animation, "target_mobject", None))
        if any(part.updaters for mobject in watched if mobject is not None for part in mobject.get_family()):
            return False
        pending.extend(getattr(animation, "animations", ()))
    return True


class FaithfulRenderer(CairoRenderer):
    """`CairoRenderer` with faithful skipping, claims for a split render, and progress reports.

    `claims` is None for a render on one worker. `jumps` False steps through every skipped animation
    (a split's re-render after partial movies went missing takes no shortcut at all). `final` is False for a helper: it hashes only what
    it claimed, and ends without combining. `progress` is written after each animation this worker
    finished (rendered, or found cached): `{"animations": N, "seconds": S}`; the server adds the
    workers' numbers up. Its frames reach the encoder through a `FramePool` (one copy each, not three).
    """

    _muted = False
    claims: Claims | None = None
    final = True
    jumps = True
    progress: Path | None = None
    _finished = 0
    _finished_seconds = 0.0
    frames: FramePool

    @classmethod
    def adopt(cls, renderer: CairoRenderer, *, claims: Claims | None, final: bool, progress: Path,
              jumps: bool = True) -> None:
        """Make the scene's own renderer (already set up by `Scene.__init__`) a faithful one."""
        renderer.__class__ = cls
        assert isinstance(renderer, FaithfulRenderer)
        renderer.claims, renderer.final, renderer.progress, renderer.jumps = claims, final, progress, jumps
        renderer.frames = PooledFileWriter.adopt(renderer.file_writer)
        # The camera fills its `display_funcs` on its first drawing, and the hash includes the camera:
        # filled now, it is the same whether the animations before were drawn or muted.
        renderer.camera.type_or_raise(Mobject())

    def play(self, scene: Any, *args: Any, **kwargs: Any) -> None:
        self.skip_animations = self._original_skipping_status
        self.update_skipping_status()  # sections that skip, and a still: absent from the video, as in Manim
        scene.compile_animation_data(*args, **kwargs)
        index, absent = self.num_plays, self.skip_animations
        key: str | None = None
        write = done = False
        if absent:
            self.time += scene.duration  # Manim's own skip: the bare CLI does exactly this too
        elif self.claims is None or self.claims.claim(index):
            key = self._key(scene)
            write = not self.file_writer.is_already_cached(key)
            done = True
        elif self.final:  # another worker renders it; the final worker combines it, so it needs its name
            key = self._key(scene)
        self.file_writer.add_partial_movie_file(key)
        self.animations_hashes.append(key)
        self.file_writer.begin_animation(write, animation_index=index)
        scene.begin_animations()
        self._muted = not write and not absent
        try:
            self.save_static_frame_data(scene, scene.static_mobjects)
            if scene.is_current_animation_frozen_frame():
                self.update_frame(scene, mobjects=scene.moving_mobjects)
                self.freeze_current_frame(scene.duration)
            elif self._muted and self.jumps and jumps_exactly(scene):
                self.skip_animations = True  # Manim's one step to the end: here the very state the frames reach
                scene.play_internal()
                self._advance_clock(scene.duration)
            else:
                scene.play_internal()
        finally:
            self._muted = False
            self.skip_animations = absent
        self.file_writer.end_animation(write)
        self.num_plays += 1
        if done:
            self._report(scene.duration)

    def _key(self, scene: Any) -> str:
        if config["disable_caching"]:
            return f"uncached_{self.num_plays:05}"
        return get_hash_from_play_call(scene, self.camera, scene.animations, scene.mobjects, backend="cairo",
                                       encoder_fingerprint=video_encoder_fingerprint(scene.session_spec.video_encoder),
                                       renderer_state=())

    def _report(self, seconds: float) -> None:
        self._finished += 1
        self._finished_seconds += seconds
        if self.progress is not None:
            partial = self.progress.with_name(f".{self.progress.name}.part")
            partial.write_text(json.dumps({"animations": self._finished, "seconds": round(self._finished_seconds, 3)}))
            partial.replace(self.progress)

    # a muted animation: every frame time is stepped through, nothing is drawn or encoded
    def update_frame(self, scene: Any, *args: Any, **kwargs: Any) -> None:
        if not self._muted:
            super().update_frame(scene, *args, **kwargs)

    def save_static_frame_data(self, scene: Any, static_mobjects: Any) -> Any:
        if self._muted:
            self.static_image = None
            return None
        return super().save_static_frame_data(scene, static_mobjects)

    def get_frame(self) -> np.ndarray:
        return self.frames.copy(self.camera.pixel_array)

    def add_frame(self, frame: Any, num_frames: int = 1) -> None:
        if self._muted:
            if not self.skip_animations:  # the clock as rendering moves it (a jump moves it in _advance_clock)
                self.time += num_frames * (1 / self.camera.frame_rate)
            return
        super().add_frame(frame, num_frames)

    def _advance_clock(self, duration: float) -> None:
        """The clock as the frames of a `duration` s animation move it: one frame at a time, float for float."""
        frame = 1 / self.camera.frame_rate
        for _ in range(len(np.arange(0, duration, 1 / config["frame_rate"]))):  # the frame times play_internal steps
            self.time += 1 * frame

    def scene_finished(self, scene: Any) -> None:
        if self.claims is not None and not self.final:
            self.file_writer.join_all_encode_jobs()  # a helper's partial movies are its whole output
            return
        if self.claims is not None:
            self.file_writer.join_all_encode_jobs()
            self.claims.finish()
            missing = [name for name in self.file_writer.partial_movie_files if name and not Path(name).is_file()]
            if missing:
                raise MissingPartials(f"{len(missing)} partial movie(s) of the split are missing")
        super().scene_finished(scene)

"""Render one job with Manim, in a subprocess the server starts in the job's own folder.

`python -m kodisc_jupyter.server._render_job MEMORY CPU_SECONDS FILE_BYTES PROCESSES` sets those
limits, imports Manim, then reads one JSON line from stdin, `{"folder", "class_name", "width",
"height", "fps", "cache", "files", "split"}` (`files`: the folder relative file names resolve in, see
`mirror`; `split`: "final" or "helper" of a split render, which then claims animations from the
server over stdout/stdin, see `_faithful` and `_split`; `walk`: skipped animations are all stepped
through, never jumped), so a worker can be started (and warmed) before its job exists. It renders the scene
class of FOLDER/scene.py and leaves FOLDER/video.mp4, thumb.jpg and captions.vtt (always a
valid WebVTT file, without cues when the scene has no subcaptions). It always ends by writing
FOLDER/result.json: `{"ok": true, "animations": N, "seconds": S}` or `{"ok": false, "error": "..."}`
(`"missing": true` too when a split's partial movies were not all there), where the error names
the exception and the line of the user's own code, never Manim's internals or our paths.
"""
from __future__ import annotations

import importlib.util
import itertools
import json
import os
import re
import resource
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from ._sandbox import JOB_MOUNT

if TYPE_CHECKING:
    from ._faithful import Claims

from ._leftovers import cap_error

SCENE_FILE = "scene.py"
#: Manim's partial movies of this (user, class, quality, aspect, fps), kept between renders by the server.
CACHE_FOLDER = "cache"
#: The render's working directory when it reads the files beside a notebook (see `mirror`): in the sandbox's
#: own /tmp, a tmpfs (a link there costs ~4 us, ~275 us on this disk), else in the job's folder.
BESIDE_FOLDER = "beside"
SANDBOX_TMP = Path("/tmp")
#: How many files and folders `mirror` links one by one; past it, a folder is linked whole.
MIRRORED_ENTRIES = 2000
#: Written after each animation, read by the server for a running job's `progress`.
PROGRESS_FILE = "progress.json"


class SceneError(Exception):
    """A problem with the user's scene that has no traceback worth showing."""


#: The limits main() takes, in its argument order (0 = leave the inherited limit).
LIMITS = (resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_FSIZE, resource.RLIMIT_NPROC)


def main(argv: list[str]) -> int:
    os.write(1, b"r")  # "started" on the server's pipe: the sandbox is set up; then stdout joins the log
    server_fd = os.dup(1)  # a split render's claims go to the server on it (see _faithful.Claims)
    os.dup2(2, 1)
    for limit, value in zip(LIMITS, map(int, argv), strict=True):
        hard = resource.getrlimit(limit)[1]
        if value > 0:  # never above the inherited hard limit: only root may raise it
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(limit, (value, value))
    _die_with_parent()
    import manim  # noqa: F401  # before the job arrives: a warm worker has paid for it already

    from ._faithful import Claims, MissingPartials

    line = sys.stdin.readline()
    if not line:  # the server stopped before sending a job
        return 0
    spec = json.loads(line)
    folder = Path(spec["folder"])
    if spec.get("files"):  # ImageMobject("diagram.png") finds the notebook's files, as under %%manim
        sandboxed = str(folder) == JOB_MOUNT
        os.chdir(mirror(Path(spec["files"]), (SANDBOX_TMP if sandboxed else folder) / BESIDE_FOLDER))
    split = spec.get("split")
    claims = Claims(server_fd, sys.stdin) if split else None
    try:
        animations, seconds = render(folder, spec["class_name"], spec["width"], spec["height"], spec["fps"],
                                     cache=spec.get("cache", False), claims=claims, final=split != "helper",
                                     jumps=not spec.get("walk"))
        outcome: dict = {"ok": True, "animations": animations, "seconds": round(seconds, 3)}
    except MissingPartials as exc:
        outcome = {"ok": False, "missing": True, "error": str(exc)}
    except SceneError as exc:
        outcome = {"ok": False, "error": str(exc)}
    except BaseException as exc:  # the user's code may raise anything, SystemExit included
        outcome = {"ok": False, "error": describe_error(exc, folder / SCENE_FILE)}
    if "error" in outcome:  # the server reads a few KB of this file and keeps fewer: cut it here, with the mark
        outcome["error"] = cap_error(outcome["error"])
    (folder / "result.json").write_text(json.dumps(outcome), encoding="utf-8")
    return 0


def _die_with_parent() -> None:
    """Kill our process group if the server dies (e.g. the notebook kernel exits mid-render): no orphans."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def render(folder: Path, class_name: str, width: int, height: int, fps: int, *, cache: bool = False,
           claims: Claims | None = None, final: bool = True, jumps: bool = True) -> tuple[int, float]:
    """Render the scene to FOLDER's outputs: (animations, seconds of video). A split render's helper
    (`final=False`) leaves only partial movies in FOLDER/cache."""
    from manim import Scene, config
    from manim.renderer.cairo_renderer import CairoRenderer

    from ._faithful import FaithfulRenderer

    config.pixel_width, config.pixel_height, config.frame_rate = width, height, fps
    config.frame_width = config.frame_height * frame_ratio(width, height)
    config.media_dir = str(folder / "media")
    config.disable_caching = not cache  # Manim reuses a partial movie only when its animation's hash matches
    if cache:
        config.partial_movie_dir = str(folder / CACHE_FOLDER)
    config.progress_bar = "none"
    config.verbosity = "WARNING"
    config.write_to_movie = True  # type: ignore[attr-defined]  # a property Manim defines dynamically

    module = _load_scene_module(folder / SCENE_FILE)
    scene_class = getattr(module, class_name, None)
    if scene_class is None:
        raise SceneError(f"class {class_name!r} not found in the code; define `class {class_name}(Scene):` "
                         "or set className to the scene's name.")
    if not (isinstance(scene_class, type) and issubclass(scene_class, Scene)):
        raise SceneError(f"{class_name!r} is not a Scene subclass; render a class defined as "
                         f"`class {class_name}(Scene):`.")
    scene = scene_class()
    if type(scene.renderer) is not CairoRenderer:  # OpenGL: no faithful skips; the final worker renders it all
        if not final:
            return 0, 0.0  # a helper of such a scene claims nothing
        _report_progress(scene, folder / PROGRESS_FILE)
    else:
        FaithfulRenderer.adopt(scene.renderer, claims=claims, final=final, progress=folder / PROGRESS_FILE, jumps=jumps)
    if final:
        _still_as_video(scene, fps)
    scene.render()
    if not final:
        return scene.renderer.num_plays, scene.renderer.time
    writer = scene.renderer.file_writer
    movie = Path(writer.movie_file_path)
    if not movie.is_file():
        raise SceneError("the scene produced no video: add at least one self.play(...) or self.wait().")
    movie.replace(folder / "video.mp4")
    srt_file = writer.output_plan.subcaption_file
    srt_text = srt_file.read_text(encoding="utf-8") if srt_file and Path(srt_file).is_file() else ""
    (folder / "captions.vtt").write_text(srt_to_vtt(srt_text), encoding="utf-8")
    # the last partial movie ends on the video's last frame, and is far shorter to decode (packets are copied)
    partials = [Path(name) for name in writer.partial_movie_files if name and Path(name).is_file()]
    write_last_frame(partials[-1] if partials else folder / "video.mp4", folder / "thumb.jpg")
    return scene.renderer.num_plays, scene.renderer.time


def frame_ratio(width: int, height: int) -> float:
    """The frame's width / height: exactly 16:9 or 9:16, as Manim's CLI keeps it (its frame_width is
    8 * 1920 / 1080 = 14.2222 at every quality), not the pixels' ratio: -ql's 854x480 is 16:9 rounded to
    whole pixels, and 854 / 480 would zoom the picture by 0.08%."""
    return 16 / 9 if width >= height else 9 / 16


def mirror(source: Path, target: Path) -> Path:
    """`target`: a writable copy of the folder tree `source` (read-only in the sandbox) made of links to its
    files, breadth first, a folder copied only while its entries fit in MIRRORED_ENTRIES in all (else it is
    linked whole). Relative names resolve as in `source`, and Manim may still write beside a file
    (SVGMobject writes `logo_.svg` next to `logo.svg`), while the files themselves stay read-only. A
    `source` with more entries than that is used as it is (read-only)."""
    budget = MIRRORED_ENTRIES
    top = _entries(source, budget)
    if top is None:
        return source
    budget -= len(top)
    target.mkdir()
    pending = [(top, target)]
    while pending:
        entries, there = pending.pop(0)
        for entry in entries:
            inner = _entries(Path(entry.path), budget) if entry.is_dir(follow_symlinks=False) else None
            if inner is not None:
                budget -= len(inner)
                (there / entry.name).mkdir()
                pending.append((inner, there / entry.name))
            else:
                (there / entry.name).symlink_to(entry.path)
    return target


def _entries(folder: Path, most: int) -> list[os.DirEntry] | None:
    """`folder`'s entries by name, or None when it has more than `most` (reading no further) or cannot be
    read (e.g. covered by the sandbox's tmpfs: then it is linked, and shows empty)."""
    try:
        with os.scandir(folder) as scan:
            entries = list(itertools.islice(scan, most + 1))
    except OSError:
        return None
    return sorted(entries, key=lambda entry: entry.name) if len(entries) <= most else None


def _report_progress(scene, path: Path) -> None:
    """After each animation (a wait counts), `{"animations": N, "seconds": S}` in `path`, replaced whole."""
    renderer = scene.renderer
    play = renderer.play
    partial = path.with_name(f".{path.name}.part")

    def play_and_report(*args, **kwargs):
        play(*args, **kwargs)
        partial.write_text(json.dumps({"animations": renderer.num_plays, "seconds": round(renderer.time, 3)}))
        partial.replace(path)

    renderer.play = play_and_report


def _still_as_video(scene, fps: int) -> None:
    """A scene that only adds mobjects (`self.add(Circle())`, as Manim's own example notebook has) makes
    Manim write a PNG, not a video: one frame of wait at the end makes it a video like any other."""
    tear_down = scene.tear_down

    def finish() -> None:
        tear_down()
        if scene.renderer.num_plays == 0:
            scene.wait(1 / fps)

    scene.tear_down = finish


def _load_scene_module(path: Path):
    spec = importlib.util.spec_from_file_location("scene", path)
    assert spec is not None and spec.loader is not None, path  # a .py file always has a source loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["scene"] = module
    spec.loader.exec_module(module)
    return module


_SRT_TIME = re.compile(r"(\d+:\d{2}:\d{2}),(\d{3})")


def srt_to_vtt(srt_text: str) -> str:
    """Manim's SubRip subcaptions as WebVTT: a header, and `,` -> `.` in the cue timings."""
    cues = [block.strip() for block in re.split(r"\n\s*\n", srt_text.replace("\r\n", "\n")) if block.strip()]
    converted = []
    for cue in cues:
        lines = cue.split("\n")
        converted.append("\n".join(_SRT_TIME.sub(r"\1.\2", line) if "-->" in line else line for line in lines))
    return "WEBVTT\n\n" + "".join(cue + "\n\n" for cue in converted)


def write_last_frame(video: Path, jpeg: Path) -> None:
    """The last frame as a JPEG (the job's thumbnail)."""
    from .._frames import last_frame

    image = last_frame(video)
    if image is None:
        raise SceneError("the rendered video has no frames: add at least one self.play(...) or self.wait().")
    image.convert("RGB").save(jpeg, "JPEG", quality=85)


def describe_error(exc: BaseException, scene_path: Path) -> str:
    """`ValueError: bad thing (line 7: self.play(Foo()))`, using the deepest frame in the user's file."""
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename) == scene_path:
        line = (exc.text or "").strip()
        return f"SyntaxError: {exc.msg} (line {exc.lineno}: {line})" if line else f"SyntaxError: {exc.msg} (line {exc.lineno})"
    from ._tex import tex_error_message

    message = tex_error_message(exc, scene_path.parent) or (f"{type(exc).__name__}: {exc}" if str(exc)
                                                             else type(exc).__name__)
    if isinstance(exc, MemoryError):
        message += " (the render ran out of its memory limit)"
    folder = str(scene_path.parent)  # the server's own work folder means nothing to the author
    message = message.replace(folder + "/", "").replace(folder, "the scene's folder")
    user_frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if Path(frame.filename) == scene_path]
    if not user_frames:
        return message
    frame = user_frames[-1]
    return f"{message} (line {frame.lineno}: {frame.line.strip()})" if frame.line else f"{message} (line {frame.lineno})"


def exit_now(code: int) -> None:
    """Leave without the interpreter's teardown: after a render it takes 0.2-0.3 s (Manim's ~1,300
    modules), all of it spent after result.json, on the time the user waits. The outputs are closed."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main(sys.argv[1:]))

"""`Rendered`, the result of a render, and `render()` for plain Python.

A saved output must outlive the kernel, the embedded server's random port and any CDN URL
(`../shared/notes/notebook-media.md`), so the player never points at a server. Linked mode (the
default) copies the MP4 to `kodisc_media/<Class>-<jobId[:8]>.mp4` in the kernel's working
directory (the notebook's folder) and uses that relative path; embedded mode (`--embed`, and
always in Colab) puts the video itself in the output as a data: URL, up to a size cap. Poster and
captions are always data: URLs: a relative poster or track breaks in JupyterLab and from file://.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import pipeline
from .._files import write_atomic
from .._logging import quiet_logs
from ..backend import resolve_backend
from ..views import format_seconds, short_id
from .display import notice_bundle
from .player import data_url, player_html, player_text
from .status import frontend_has_widgets

if TYPE_CHECKING:
    from ..client import Job
    from ..pipeline import Outcome

__all__ = ["Rendered", "render", "MEDIA_FOLDER", "DEFAULT_EMBED_MAX_MB"]

MEDIA_FOLDER = "kodisc_media"
DEFAULT_EMBED_MAX_MB = 20.0
PORTRAIT_WIDTH = "360px"
PORTABLE_HINT = (f"This video is a file in {MEDIA_FOLDER}/ beside the notebook: share or publish that folder with it, "
                 "or use --embed (%config Kodisc.embed = True) to put the video inside the notebook.")
_portable_hint_shown = False  # once per kernel: a local render's linked player says how to make it portable


def in_colab() -> bool:
    return "google.colab" in sys.modules


class Rendered:
    """A finished render: `.video`, `.thumbnail`, `.captions` (local files), `.job`, and the player."""

    def __init__(self, outcome: Outcome) -> None:
        self._outcome = outcome
        self.job: Job = outcome.job
        self.class_name = outcome.class_name
        self.video: Path | None = outcome.video
        self.thumbnail: Path | None = outcome.thumbnail
        self.captions: Path | None = outcome.captions
        self.cached = outcome.cached
        self.aspect_ratio = outcome.aspect_ratio
        self.backend = outcome.backend.label
        self.embed: bool | None = None  # what _repr_html_ uses: None embeds only in Colab
        self.note: str | None = None  # set by html() when the embed size cap applied
        self._embedded = False  # set by html(): whether the last player carried the video itself

    def __repr__(self) -> str:
        state = "cached" if self.cached else self.job.status
        return (f"<Rendered {self.class_name} job={self.job.job_id} {state} "
                f"credits={self.job.credits_cost:g} video={str(self.video) if self.video else None!r}>")

    def _repr_html_(self) -> str:
        return self.html(embed=self.embed)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any] | None:
        """In a notebook, `clip` shows what `%%kodisc` shows: the player, and a text view naming
        kodisc_media/... rather than the repr's path under KODISC_HOME (saved notebooks get shared).
        Elsewhere (terminal IPython) None: the plain repr, and no copy into kodisc_media/."""

        return self.bundle(embed=self.embed) if frontend_has_widgets() and self.video else None

    def summary(self) -> str:
        """One line: render time, credits, short job id, backend, and "cached" when it was."""

        parts = []
        if self.job.duration_ms is not None:
            parts.append(f"rendered in {format_seconds(self.job.duration_ms / 1000)}")
        credits = 0 if self.cached else self.job.credits_cost
        parts += [f"{credits:g} credit{'' if credits == 1 else 's'}", f"job {short_id(self.job.job_id)}", self.backend]
        if self.cached:
            parts.append("cached (no new render; --force renders again)")
        return " · ".join(parts)

    def html(self, *, embed: bool | None = None, embed_max_mb: float = DEFAULT_EMBED_MAX_MB,
             width: str | None = None, summary: str | None = None) -> str:
        """The player. `embed=None` embeds only in Colab; a video over `embed_max_mb` is linked instead."""

        if self.video is None:
            return ""
        embed = in_colab() if embed is None else embed
        self.note = None
        size = self.video.stat().st_size
        if embed and size > embed_max_mb * 1024 * 1024:
            embed = False
            self.note = (f"The video is {size / 2**20:.1f} MB, over the {embed_max_mb:g} MB embed cap "
                         "(%config Kodisc.embed_max_mb): it is linked from the kodisc_media folder instead.")
        self._embedded = embed
        src = data_url(self.video.read_bytes(), "video/mp4") if embed else self._linked_video()
        poster = data_url(self.thumbnail.read_bytes(), "image/jpeg") if self.thumbnail else None
        captions = self.captions.read_text(encoding="utf-8") if self.captions else None
        if width is None and self.aspect_ratio == "9:16":
            width = PORTRAIT_WIDTH  # a portrait video as wide as the cell would be taller than the screen
        return player_html(video_src=src, poster_src=poster, captions_vtt=captions, title=self.class_name,
                           width=width, summary=summary, fallback_src=None if embed else self._public_video_url())

    def text(self) -> str:
        """The text/plain view: what was rendered, the summary, and where the MP4 is."""

        return player_text(title=self.class_name, file=str(self.video) if self.video else None, summary=self.summary())

    def bundle(self, **options: Any) -> dict[str, Any]:
        """The final output of a cell: the player with its summary line (plus the size-cap note, if any).

        Its text names the file the player plays (`kodisc_media/...`, or the notebook itself), never
        the copy under KODISC_HOME: a shared notebook must not carry the author's private paths."""

        global _portable_hint_shown
        player = self.html(summary=self.summary(), **options)
        shown = "embedded in this notebook" if self._embedded else f"{MEDIA_FOLDER}/{self._media_name()}"
        text = player_text(title=self.class_name, file=shown if self.video else None, summary=self.summary())
        notes = [self.note] if self.note else []
        if self.video and not self._embedded and self._public_video_url() is None and not _portable_hint_shown:
            _portable_hint_shown = True
            notes.append(PORTABLE_HINT)
        for line in notes:
            note = notice_bundle(line)
            text, player = f"{text}\n{note['text/plain']}", player + note["text/html"]
        return {"text/plain": text, "text/html": player}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the MP4 to `path` and, when there are captions, the WebVTT beside it (`.vtt`)."""
        if self.video is None:
            raise FileNotFoundError(f"job {self.job.job_id} has no saved video to write")
        target = Path(path).expanduser()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.video, target)
        if self.captions is not None:
            shutil.copyfile(self.captions, target.with_suffix(".vtt"))
        return target

    def _public_video_url(self) -> str | None:
        """A Kodisc render's CDN URL, the player's fallback when kodisc_media/ did not travel with the
        notebook (the embedded server's URLs die with it: never a fallback)."""
        result = self.job.result
        url = result.video if result is not None else None
        if self._outcome.backend.name != "kodisc" or not url or not url.startswith(("https://", "http://")):
            return None
        return url

    def _media_name(self) -> str:
        return f"{self.class_name}-{self.job.job_id[:8]}.mp4"

    def _linked_video(self) -> str:
        """Copy the MP4 beside the notebook (once) and return its relative, portable path."""
        assert self.video is not None
        name = self._media_name()
        target = Path.cwd() / MEDIA_FOLDER / name
        if not target.is_file() or target.stat().st_size != self.video.stat().st_size:
            with self.video.open("rb") as source:
                write_atomic(target, source)
        return f"{MEDIA_FOLDER}/{name}"


def render(code: str, class_name: str | None = None, *, quality: str = "medium", aspect_ratio: str = "16:9",
           fps: int | None = None, metadata: Any = None, embed: bool | None = None, force: bool = False,
           timeout: float | None = None, backend: str = "auto") -> Rendered:
    """Render `class_name` from `code` (blocking) with the same backend, pre-flight, cache and history as
    `%%kodisc`; raises the client's errors (`RenderFailedError` for a failed scene)."""

    chosen = resolve_backend(backend)
    if chosen.notice:
        print(chosen.notice, file=sys.stderr)
    request = pipeline.RenderRequest(code=code, class_name=class_name, quality=quality, aspect_ratio=aspect_ratio,
                                     fps=fps, metadata=metadata, force=force, timeout=timeout)
    with quiet_logs():  # a cell shows no log record of the render, whatever logging the kernel has
        rendered = Rendered(pipeline.run(pipeline.RenderFlow(request, chosen)))
    rendered.embed = embed
    return rendered

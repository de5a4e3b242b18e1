"""`Rendered`, the result of a render, and `render()` for plain Python.

A saved output must outlive the kernel, the embedded server's random port and any CDN URL
(`../shared/notes/notebook-media.md`), so the player never points at a server. Linked mode (the
default) copies the MP4 to `kodisc_media/<Class>-<jobId[:8]>.mp4` in the kernel's working
directory (the notebook's folder) and uses that relative path; embedded mode (`--embed`, and
always in Colab) puts the video itself in the output as a data: URL, up to a size cap. The poster
and captions sit beside the video too; the HTML player inlines the captions (file:// pages refuse
relative tracks), our JupyterLab renderer's JSON (`player.PLAYER_MIME`) names the files.
"""
from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import pipeline
from .._files import write_atomic
from .._logging import quiet_logs
from ..assets import vtt_has_cues
from ..backend import resolve_backend
from ..views import format_seconds, short_id
from .display import notice_bundle
from .player import PLAYER_MIME, data_url, player_data, player_html, player_text
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
             width: int | str | None = None, summary: str | None = None) -> str:
        """The player. `embed=None` embeds only in Colab; a video over `embed_max_mb` is linked instead."""

        media = self._media(embed, embed_max_mb)
        if media is None:
            return ""
        return player_html(video_src=media.video, poster_src=media.poster, captions_vtt=media.captions_vtt,
                           title=self.class_name, width=self._width(width), summary=summary, fallback_src=media.fallback)

    def text(self) -> str:
        """The text/plain view: what was rendered, the summary, and where the MP4 is."""

        return player_text(title=self.class_name, file=str(self.video) if self.video else None, summary=self.summary())

    def bundle(self, *, embed: bool | None = None, embed_max_mb: float = DEFAULT_EMBED_MAX_MB,
               width: int | str | None = None) -> dict[str, Any]:
        """The final output of a cell: our renderer's JSON first, then the HTML player and its text, each
        with the summary line (plus the size-cap note, if any).

        Its text names the file the player plays (`kodisc_media/...`, or the notebook itself), never
        the copy under KODISC_HOME: a shared notebook must not carry the author's private paths."""

        global _portable_hint_shown
        media = self._media(embed, embed_max_mb)
        if media is None:
            return {"text/plain": self.text()}
        summary, width = self.summary(), self._width(width)
        player = player_html(video_src=media.video, poster_src=media.poster, captions_vtt=media.captions_vtt,
                             title=self.class_name, width=width, summary=summary, fallback_src=media.fallback)
        shown = "embedded in this notebook" if self._embedded else f"{MEDIA_FOLDER}/{self._media_name()}"
        text = player_text(title=self.class_name, file=shown, summary=summary)
        notes = [self.note] if self.note else []
        if not self._embedded and media.fallback is None and not _portable_hint_shown:
            _portable_hint_shown = True
            notes.append(PORTABLE_HINT)
        for line in notes:
            note = notice_bundle(line)
            text, player = f"{text}\n{note['text/plain']}", player + note["text/html"]
        data = player_data(video_src=media.video, poster_src=media.poster, captions_src=media.captions_src,
                           title=self.class_name, width=width, summary=summary, fallback_src=media.fallback, notes=notes,
                           media_in_html=self._embedded)
        return {PLAYER_MIME: data, "text/html": player, "text/plain": text}

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

    def _media(self, embed: bool | None, embed_max_mb: float) -> _Media | None:
        """Where the player finds its video, poster and captions. Linked: files in kodisc_media/ beside
        the notebook (the captions also inline for the HTML player, as file:// pages refuse relative
        tracks); embedded: data: URLs. Sets `note` when the embed size cap applied."""
        if self.video is None:
            return None
        embed = in_colab() if embed is None else embed
        self.note = None
        size = self.video.stat().st_size
        if embed and size > embed_max_mb * 1024 * 1024:
            embed = False
            self.note = (f"The video is {size / 2**20:.1f} MB, over the {embed_max_mb:g} MB embed cap "
                         "(%config Kodisc.embed_max_mb): it is linked from the kodisc_media folder instead.")
        self._embedded = embed
        vtt = self.captions.read_text(encoding="utf-8") if self.captions else None
        vtt = vtt if vtt and vtt_has_cues(vtt) else None
        if embed:
            poster = data_url(self.thumbnail.read_bytes(), "image/jpeg") if self.thumbnail else None
            captions = data_url(vtt.encode("utf-8"), "text/vtt") if vtt else None
            return _Media(data_url(self.video.read_bytes(), "video/mp4"), poster, vtt, captions, None)
        stem = self._media_name().removesuffix(".mp4")  # the poster and captions share the video's name
        video = self._beside_notebook(self.video, f"{stem}.mp4")
        poster = self._beside_notebook(self.thumbnail, f"{stem}.jpg") if self.thumbnail else None
        captions = self._beside_notebook(self.captions, f"{stem}.vtt") if self.captions and vtt else None
        return _Media(video, poster, vtt, captions, self._public_video_url())

    def _width(self, width: int | str | None) -> int | str | None:
        if width is None and self.aspect_ratio == "9:16":
            return PORTRAIT_WIDTH  # a portrait video as wide as the cell would be taller than the screen
        return width

    @staticmethod
    def _beside_notebook(source: Path, name: str) -> str:
        """Copy a file into kodisc_media/ in the working directory (once) and return its relative, portable path."""
        target = Path.cwd() / MEDIA_FOLDER / name
        if not target.is_file() or target.stat().st_size != source.stat().st_size:
            with source.open("rb") as data:
                write_atomic(target, data)
        return f"{MEDIA_FOLDER}/{name}"


@dataclass(frozen=True)
class _Media:
    video: str
    poster: str | None
    captions_vtt: str | None  # the WebVTT text (the HTML player inlines it)
    captions_src: str | None  # the renderer's track: a file beside the video, or a data: URL
    fallback: str | None


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

"""`Rendered`, the result of a render, and `render()` for plain Python.

A saved output must outlive the kernel, the embedded server's random port and any CDN URL
(`../shared/notes/notebook-media.md`), so the player never points at a server. Linked mode (the
default in JupyterLab and Notebook 7) copies the MP4 to `kodisc_media/<Class>-<jobId[:8]>.mp4` in
the kernel's working directory (the notebook's folder) and uses that relative path; embedded mode
(`--embed`, and by default in Colab and VS Code, which cannot load a relative file: see
`frontend.py`) puts the video itself in the output as a data: URL, up to a size cap. The poster
and captions sit beside the video too; the HTML player inlines the captions (file:// pages refuse
relative tracks), our JupyterLab renderer's JSON (`player.PLAYER_MIME`) names the files.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import write_atomic
from .._logging import quiet_logs
from .._mp4 import has_aac_track
from ..contract._rules import DEFAULT_ASPECT_RATIO, DEFAULT_QUALITY
from ..rendering import pipeline, session
from ..rendering.assets import vtt_has_cues
from ..rendering.backend import resolve_backend
from ..rendering.views import format_seconds, short_id
from . import frontend
from .display import notice_bundle
from .player import PLAYER_MIME, data_url, player_data, player_html, player_text

if TYPE_CHECKING:
    from ..client import Job
    from ..rendering.pipeline import Outcome

__all__ = ["Rendered", "render", "place", "Placement", "Sizes", "Caps", "MEDIA_FOLDER", "DEFAULT_EMBED_MAX_MB"]

MEDIA_FOLDER = "kodisc_media"
DEFAULT_EMBED_MAX_MB = 20.0
PORTRAIT_WIDTH = "360px"
PORTABLE_HINT = (f"This video is a file in {MEDIA_FOLDER}/ beside the notebook: share or publish that folder with it, "
                 "or use --embed (%config Kodisc.embed = True) to put the video inside the notebook.")
SILENT_SOUND_NOTE = ("This video has an AAC sound track: VS Code plays its picture but not its sound (its player "
                     "has no AAC decoder). Open the MP4, or the notebook in JupyterLab or a browser, to hear it.")


@dataclass(frozen=True)
class Sizes:
    """What placing a video weighs: the MP4 itself, and the output it makes when embedded, as stored (at
    least the base64 of the video, poster and captions; measured once built)."""

    video: int
    stored: int


@dataclass(frozen=True)
class Caps:
    """The size limits: `%config Kodisc.embed_max_mb` for an embedded video, Colab's for a whole output."""

    embed_max_mb: float = DEFAULT_EMBED_MAX_MB
    colab_max_mb: float = frontend.COLAB_OUTPUT_MAX_MB


@dataclass(frozen=True)
class Placement:
    """How the video travels: "embed" (a data: URL), "link" (kodisc_media/), "cdn" (the Kodisc render's public
    URL) or "none" (only a notice); `note` is the one line that says why, when a cap decided it."""

    how: str
    note: str | None = None


def place(where: str, sizes: Sizes, caps: Caps, *, embed: bool | None = None, cdn: bool = False,
          name: str = MEDIA_FOLDER) -> Placement:
    """Where the video goes, from the frontend (`frontend.current()`), the sizes and the caps alone.

    `embed=None` embeds where a linked file cannot play (Colab, VS Code); `cdn`: the render has a public
    URL (a Kodisc render's); `name`: the linked file, as the notes name it."""
    if not (where in (frontend.COLAB, frontend.VSCODE) if embed is None else embed):
        return Placement("link")
    if sizes.video > caps.embed_max_mb * 2**20:
        over = (f"The video is {sizes.video / 2**20:.1f} MB, over the {caps.embed_max_mb:g} MB embed cap "
                "(%config Kodisc.embed_max_mb)")
    elif where == frontend.COLAB and sizes.stored > caps.colab_max_mb * 10**6:
        over = (f"The video takes {sizes.stored / 10**6:.1f} MB in the output, over Colab's {caps.colab_max_mb:g} MB "
                "output limit")
    else:
        return Placement("embed")
    if where == frontend.COLAB and cdn:
        return Placement("cdn", f"{over}: it plays from Kodisc's CDN.")
    if where == frontend.COLAB:
        return Placement("none", f"{over}, so it is not shown here: it is {name} (Files panel), "
                                 "or render fewer seconds or a lower quality.")
    if where == frontend.VSCODE:
        return Placement("link", f"{over}; VS Code cannot play a linked file: open {name}, "
                                 "or write it anywhere with kodisc_jupyter.render(...).save(path).")
    return Placement("link", f"{over}: it is linked from the {MEDIA_FOLDER} folder instead.")


@dataclass(frozen=True)
class _Media:
    video: str
    poster: str | None
    captions_vtt: str | None  # the WebVTT text (the HTML player inlines it)
    captions_src: str | None  # the renderer's track: a file beside the video, or a data: URL
    fallback: str | None


class Rendered:
    """A finished render: `.video`, `.thumbnail`, `.captions` (local files), `.job`, and the player.

    Each output is built in three steps: `place()` decides where the video goes, `_media()` puts the
    files there (copies or data: URLs), `_build()` makes the bundle; nothing is kept between outputs."""

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
        self.embed: bool | None = None  # what _repr_html_ uses: None embeds only where linking cannot play

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
        return self.bundle(embed=self.embed) if frontend.frontend_has_widgets() and self.video else None

    def summary(self) -> str:
        """One line: render time, credits, short job id, backend, "cached" when it was, and what the
        notebook's definitions added to the cell's code."""
        parts = []
        if self.job.duration_ms is not None:
            parts.append(f"rendered in {format_seconds(self.job.duration_ms / 1000)}")
        credits = 0 if self.cached else self.job.credits_cost
        parts += [f"{credits:g} credit{'' if credits == 1 else 's'}", f"job {short_id(self.job.job_id)}", self.backend]
        if self.cached:
            parts.append("cached (no new render; --force renders again)")
        names = self._outcome.from_notebook
        if names:
            more = f" and {len(names) - 6} more" if len(names) > 6 else ""
            parts.append(f"with {', '.join(names[:6])}{more} from the notebook")
        return " · ".join(parts)

    def html(self, *, embed: bool | None = None, embed_max_mb: float = DEFAULT_EMBED_MAX_MB,
             width: int | str | None = None, summary: str | None = None,
             colab_max_mb: float = frontend.COLAB_OUTPUT_MAX_MB) -> str:
        """The player. `embed=None` embeds where a linked file cannot play (Colab, VS Code); a video over
        `embed_max_mb`, or an output over Colab's `colab_max_mb`, falls back as `place()` says."""
        if self.video is None:
            return ""
        placement, media = self._placed(embed, Caps(embed_max_mb, colab_max_mb), width, summary)
        return "" if media is None else self._build(placement, media, width, summary, notes=[])["text/html"]

    def text(self) -> str:
        """The text/plain view: what was rendered, the summary, and where the MP4 is."""
        return player_text(title=self.class_name, file=str(self.video) if self.video else None, summary=self.summary())

    def bundle(self, *, embed: bool | None = None, embed_max_mb: float = DEFAULT_EMBED_MAX_MB,
               width: int | str | None = None, colab_max_mb: float = frontend.COLAB_OUTPUT_MAX_MB) -> dict[str, Any]:
        """The final output of a cell: our renderer's JSON first, then the HTML player and its text, each
        with the summary line (plus the size-cap note, if any).

        Its text names the file the player plays (`kodisc_media/...`, or the notebook itself), never
        the copy under KODISC_HOME: a shared notebook must not carry the author's private paths. In
        Colab the whole bundle, as stored, stays under `colab_max_mb`; notes also say what VS Code cannot
        play, and how to share a linked video (each once per session)."""
        if self.video is None:
            return {"text/plain": self.text()}
        summary = self.summary()
        placement, media = self._placed(embed, Caps(embed_max_mb, colab_max_mb), width, summary)
        notes = [placement.note] if placement.note else []
        if media is None:  # in Colab, a local render over the limit: one line, no dead player
            note = notice_bundle(placement.note or "")
            text = player_text(title=self.class_name, file=f"{MEDIA_FOLDER}/{self._media_name()}", summary=summary)
            return {"text/plain": f"{text}\n{note['text/plain']}", "text/html": note["text/html"]}
        notices = session.current()
        if placement.how == "link" and media.fallback is None and notices.first_time(PORTABLE_HINT):
            notes.append(PORTABLE_HINT)
        if (frontend.current() == frontend.VSCODE and has_aac_track(self.video)
                and notices.first_time(SILENT_SOUND_NOTE)):
            notes.append(SILENT_SOUND_NOTE)
        return self._build(placement, media, width, summary, notes=notes)

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

    # -- the three steps -------------------------------------------------------------------------

    def _placed(self, embed: bool | None, caps: Caps, width: int | str | None,
                summary: str | None) -> tuple[Placement, _Media | None]:
        """The placement and its media. In Colab an embedded output that weighs more than Colab allows
        as stored (measured on the built output, not estimated) is placed again with that weight."""
        assert self.video is not None
        parts = [self.video] + [path for path in (self.thumbnail, self.captions) if path is not None]
        where = frontend.current()
        cdn, name = self._public_video_url() is not None, f"{MEDIA_FOLDER}/{self._media_name()}"
        sizes = Sizes(video=self.video.stat().st_size, stored=sum(4 * -(-path.stat().st_size // 3) for path in parts))
        placement = place(where, sizes, caps, embed=embed, cdn=cdn, name=name)
        media = self._media(placement)
        if placement.how == "embed" and where == frontend.COLAB and media is not None:
            built = self._build(placement, media, width, summary, notes=[])
            weight = sum(len(value) if isinstance(value, str) else len(json.dumps(value)) for value in built.values())
            if weight > caps.colab_max_mb * 10**6:
                placement = place(where, Sizes(sizes.video, weight), caps, embed=embed, cdn=cdn, name=name)
                media = self._media(placement)
        return placement, media

    def _media(self, placement: Placement) -> _Media | None:
        """Where the player finds its video, poster and captions. Linked: files in kodisc_media/ beside
        the notebook (the captions also inline for the HTML player, as file:// pages refuse relative
        tracks); embedded, or from the CDN in Colab: data: URLs for all but a CDN video. None in Colab
        when only a notice fits (the file is copied for it to name)."""
        assert self.video is not None
        vtt = self.captions.read_text(encoding="utf-8") if self.captions else None
        vtt = vtt if vtt and vtt_has_cues(vtt) else None
        if placement.how in ("embed", "cdn"):
            poster = data_url(self.thumbnail.read_bytes(), "image/jpeg") if self.thumbnail else None
            captions = data_url(vtt.encode("utf-8"), "text/vtt") if vtt else None
            video = data_url(self.video.read_bytes(), "video/mp4") if placement.how == "embed" else self._public_video_url()
            return _Media(video or "", poster, vtt, captions, None)
        stem = self._media_name().removesuffix(".mp4")  # the poster and captions share the video's name
        video = self._beside_notebook(self.video, f"{stem}.mp4")
        if placement.how == "none":
            return None
        poster = self._beside_notebook(self.thumbnail, f"{stem}.jpg") if self.thumbnail else None
        captions = self._beside_notebook(self.captions, f"{stem}.vtt") if self.captions and vtt else None
        return _Media(video, poster, vtt, captions, self._public_video_url())

    def _build(self, placement: Placement, media: _Media, width: int | str | None, summary: str | None, *,
               notes: list[str]) -> dict[str, Any]:
        """The bundle: our renderer's JSON, the HTML player and its text, each followed by the notes."""
        width = self._width(width)
        player = player_html(video_src=media.video, poster_src=media.poster, captions_vtt=media.captions_vtt,
                             title=self.class_name, width=width, summary=summary, fallback_src=media.fallback)
        shown = {"embed": "embedded in this notebook", "cdn": media.video}.get(
            placement.how, f"{MEDIA_FOLDER}/{self._media_name()}")
        text = player_text(title=self.class_name, file=shown, summary=summary)
        for line in notes:
            note = notice_bundle(line)
            text, player = f"{text}\n{note['text/plain']}", player + note["text/html"]
        data = player_data(video_src=media.video, poster_src=media.poster, captions_src=media.captions_src,
                           title=self.class_name, width=width, summary=summary, fallback_src=media.fallback, notes=notes,
                           media_in_html=placement.how == "embed")
        return {PLAYER_MIME: data, "text/html": player, "text/plain": text}

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


def render(code: str, class_name: str | None = None, *, quality: str = DEFAULT_QUALITY,
           aspect_ratio: str = DEFAULT_ASPECT_RATIO,
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

"""The inline player's HTML (pure functions: no IPython, no widgets).

Built from what survives each frontend (see shared/notes/notebook-media.md): `src` sits on the
`<video>` itself, because untrusted outputs lose `src` on `<source>` and `<track>` children; the
poster and the captions are `data:` URLs, because a relative poster breaks in JupyterLab and
file:// pages refuse relative tracks; no `crossorigin`, which kills the video when a CDN sends
no CORS header. Where scripts were stripped (an untrusted reopened notebook) the captions are
gone too, so a one-line hint says how to get them back; a script right after it removes it
everywhere else.

Every string from a user or a server is escaped; `src` values must be relative, http(s) or
`data:` URLs of the right media type.

`player_data` is the same player as JSON for our JupyterLab / Notebook 7 mime renderer
(`PLAYER_MIME`, the labextension in `labextension/`), which draws it with DOM APIs even in untrusted
outputs, where the sanitizer strips the HTML player's `<track>`: a bundle puts it first and keeps
the HTML and text siblings for every other frontend (nbconvert, GitHub, VS Code, Colab).
"""
from __future__ import annotations

import base64
import html
import re
from typing import Any
from urllib.parse import urlsplit

from ..rendering.assets import vtt_has_cues

__all__ = ["PLAYER_MIME", "player_data", "player_html", "player_text", "data_url", "UNTRUSTED_HINT"]

PLAYER_MIME = "application/vnd.kodisc.video+json"
PLAYER_DATA_VERSION = 1

UNTRUSTED_HINT = (
    "Captions are off because this output is not trusted: re-run the cell or use File → Trust Notebook."
)
DEFAULT_MAX_WIDTH = "720px"

_MIME_RE = re.compile(r"[a-z]+/[a-z0-9.+-]+")
_CSS_LENGTH_RE = re.compile(r"\d+(?:\.\d+)?(?:px|%|em|rem|vw|ch)")
_CONTROL_RE = re.compile(r"[\x00-\x20\x7f]")
# On a load error (the notebook travelled without its kodisc_media/ folder), play the job's public URL
# instead, once. Runs wherever inline handlers do (trusted outputs, nbconvert HTML, built sites);
# JupyterLab's sanitizer drops it from untrusted outputs with every other on* attribute.
_FALLBACK_HANDLER = ("var f=this.getAttribute('data-kodisc-fallback');"
                     "if(f&&this.getAttribute('src')!==f){this.setAttribute('src',f);}")
# Removes the hint just before it; does nothing (and throws nothing) anywhere it cannot.
_REMOVE_HINT_SCRIPT = (
    "<script>(function(){try{var s=document.currentScript,p=s&&s.previousElementSibling;"
    "if(p&&p.classList&&p.classList.contains('kodisc-untrusted-hint')&&p.parentNode)"
    "{p.parentNode.removeChild(p);}}catch(e){}})();</script>"
)


def data_url(data: bytes, mime: str) -> str:
    """`data:<mime>;base64,...` for embedding a file in the page (a poster, captions, a video)."""
    if not _MIME_RE.fullmatch(mime):
        raise ValueError(f"mime must look like 'image/jpeg'; got {mime!r}")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def player_html(
    *,
    video_src: str,
    poster_src: str | None = None,
    captions_vtt: str | bytes | None = None,
    title: str,
    width: int | str | None = None,
    summary: str | None = None,
    fallback_src: str | None = None,
) -> str:
    """A `<video>` player; `captions_vtt` is the WebVTT text, embedded as a track only if it has cues.

    `video_src`: a relative URL (a file beside the notebook), an https URL or a `data:video/...` URL.
    `poster_src`: normally `data_url(jpeg_bytes, "image/jpeg")`. `width`: pixels or a CSS length
    (default: the cell's width, at most 720px). `fallback_src`: an http(s) URL played when `video_src`
    fails to load (a cloud render's CDN URL, for a notebook opened without its media folder).
    """
    video, poster, fallback = _checked_sources(video_src, poster_src, fallback_src)
    if isinstance(captions_vtt, bytes):
        captions_vtt = captions_vtt.decode("utf-8", errors="replace")
    has_captions = bool(captions_vtt) and vtt_has_cues(captions_vtt or "")

    attributes = {
        "class": "kodisc-video",
        "src": video,
        "poster": poster,
        "preload": "metadata",
        "aria-label": title,
        "style": "width:{};max-width:{};height:auto;display:block".format(*_widths(width)),
        "data-kodisc-fallback": fallback,
        "onerror": _FALLBACK_HANDLER if fallback is not None else None,
    }
    attrs = "".join(f' {name}="{_escape(value)}"' for name, value in attributes.items() if value is not None)
    parts = ['<div class="kodisc-player">', f"<video controls playsinline{attrs}>"]
    if has_captions:
        track_src = data_url((captions_vtt or "").encode("utf-8"), "text/vtt")
        parts.append(f'<track kind="captions" srclang="en" label="English" default src="{_escape(track_src)}">')
    parts.append("</video>")
    if has_captions:
        parts.append(f'<p class="kodisc-untrusted-hint" style="margin:4px 0;font-size:90%">{_escape(UNTRUSTED_HINT)}</p>')
        parts.append(_REMOVE_HINT_SCRIPT)
    if summary:
        parts.append(f'<p class="kodisc-summary" style="margin:4px 0;font-size:90%;opacity:0.8">{_escape(summary)}</p>')
    parts.append("</div>")
    return "\n".join(parts)


def player_data(
    *,
    video_src: str,
    poster_src: str | None = None,
    captions_src: str | None = None,
    title: str,
    width: int | str | None = None,
    summary: str | None = None,
    fallback_src: str | None = None,
    notes: list[str] | tuple[str, ...] = (),
    media_in_html: bool = False,
) -> dict[str, Any]:
    """The player as `PLAYER_MIME` JSON: the same checked URLs as `player_html`, and `captions_src` a
    relative or data:text/vtt URL (a file beside the video: the renderer resolves it like the video).
    `notes` are one-line notices drawn under the player (the embed cap, the portable-media hint).

    `media_in_html`: the video, poster and captions are data: URLs already in the text/html sibling;
    the JSON says so (`"media": "text/html"`) instead of carrying them twice, and the renderer reads
    them from that sibling with an inert parser."""
    video, poster, fallback = _checked_sources(video_src, poster_src, fallback_src)
    css_width, max_width = _widths(width)
    captions = _checked_src(captions_src, "captions_src", "text/vtt") if captions_src is not None else None
    if captions is not None and urlsplit(captions).scheme in ("http", "https"):
        raise ValueError("captions_src must be relative or a data:text/vtt URL (a cross-origin track needs CORS)")
    data: dict[str, Any] = {
        "version": PLAYER_DATA_VERSION, "title": str(title), "media": None, "video": video, "poster": poster,
        "captions": captions, "fallback": fallback, "width": css_width, "max_width": max_width,
        "summary": str(summary) if summary else None, "notes": [str(note) for note in notes]}
    if media_in_html:
        data.update(media="text/html", video=None, poster=None, captions=None)
    return data


def player_text(
    *, title: str, duration_ms: int | None = None, file: str | None = None, summary: str | None = None
) -> str:
    """The player's text/plain sibling: what the video is, and where the file is."""
    first = f"▶ {title}"
    if duration_ms is not None:
        first += f" ({duration_ms / 1000:.1f} s render)"
    if summary:
        first += f" · {summary}"
    return f"{first}\n  video: {file}" if file else first


def _checked_sources(video_src: str, poster_src: str | None, fallback_src: str | None) -> tuple[str, str | None, str | None]:
    video = _checked_src(video_src, "video_src", "video/")
    fallback = _checked_src(fallback_src, "fallback_src", "video/") if fallback_src is not None else None
    if fallback is not None and urlsplit(fallback).scheme not in ("http", "https"):
        raise ValueError("fallback_src must be an http(s) URL")
    poster = _checked_src(poster_src, "poster_src", "image/") if poster_src is not None else None
    return video, poster, fallback


def _checked_src(src: str, name: str, data_media: str) -> str:
    """Only relative, http(s) and `data:<media>/...` URLs: no `javascript:`, `file:` or other schemes."""
    if not isinstance(src, str) or not src:
        raise ValueError(f"{name} must be a non-empty URL string")
    if src != src.strip() or _CONTROL_RE.search(src.replace(" ", "")) or "\\" in src:
        raise ValueError(f"{name} has surrounding spaces, control characters or backslashes; pass a URL (quote the path)")
    scheme = urlsplit(src).scheme.lower()
    if scheme in ("http", "https"):
        return src
    if scheme == "data":
        if src[5:].lower().startswith(data_media):
            return src
        raise ValueError(f"{name} is a data: URL that is not {data_media}*")
    if scheme:
        raise ValueError(f"{name} must be a relative, http(s) or data: URL; got a {scheme}: URL")
    return src


def _widths(width: int | str | None) -> tuple[str, str]:
    """(width, max-width) as CSS lengths."""
    if width is None:
        return "100%", DEFAULT_MAX_WIDTH
    if isinstance(width, int) and not isinstance(width, bool) and width > 0:
        return f"{width}px", "100%"
    if isinstance(width, str) and _CSS_LENGTH_RE.fullmatch(width.strip()):
        return width.strip(), "100%"
    raise ValueError(f"width must be a number of pixels or a CSS length like '80%' or '640px'; got {width!r}")


def _escape(value: str) -> str:
    return html.escape(str(value), quote=True)

"""The history as HTML, with no widget: the jobs table, the spending bar, thumbnails and a stored job's player.

`%kodisc_jobs` shows the table with these alone; the panel (`panel.py`) builds its snapshots and
its rows from them. Every string from a user or a server is escaped. The text views beside them,
shared with the command line, are `rendering/views.py`.
"""
from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from ..rendering.assets import vtt_has_cues
from ..rendering.views import (
    COLUMNS,
    empty_message,
    format_credits,
    format_duration,
    page_caption,
    row_cells,
    short_id,
    spending_text,
)
from .player import PLAYER_MIME, data_url, player_data, player_html, player_text

__all__ = ["escaped", "thumb_and_id_html", "jobs_html", "spending_html", "thumbnail_data_url", "stored_player"]

_THUMB_WIDTH = 96
_THUMB_MAX_BYTES = 48 * 1024
# A live widget is never sanitized, so the player's "captions are off (untrusted)" line, which a
# script removes in trusted outputs, would be wrong here; widget HTML runs no scripts: hide it by CSS.
_PLAYER_STYLE = "<style>.kodisc-panel-player .kodisc-untrusted-hint{display:none}</style>"


def escaped(value: Any) -> str:
    return escape(str(value), quote=True)


def thumb_and_id_html(job_id: str, thumbnail: str | None) -> tuple[str, str]:
    """A row's first two cells: a fixed-size thumbnail (portrait ones letterboxed) and the short job
    id that status lines and summaries show, with the full id on hover."""
    img = (f'<img src="{escaped(thumbnail)}" alt="" style="width:64px;height:36px;object-fit:contain;'
           f'background:#000">' if thumbnail else "")
    return img, f'<code title="{escaped(job_id)}">{escaped(short_id(job_id))}</code>'


def jobs_html(records: Sequence[Any], *, total: int | None = None, offset: int = 0,
              thumbnails: dict[str, str] | None = None, status: str | None = None) -> str:
    """The history rows as an HTML table (class `kodisc-jobs-table`), every string escaped."""
    if not records:
        return f'<p class="kodisc-jobs-empty">{escaped(empty_message(status))}</p>'
    thumbnails = thumbnails or {}
    head = "".join(f"<th>{escaped(c)}</th>" for c in ("", *COLUMNS))
    body = []
    for record in records:
        cells = row_cells(record)
        img, short = thumb_and_id_html(record.job_id, thumbnails.get(record.job_id))
        tail = "".join(f"<td>{escaped(c)}</td>" for c in cells[1:])
        body.append(f'<tr class="kodisc-job kodisc-status-{escaped(record.status)}" data-job-id="{escaped(record.job_id)}">'
                    f"<td>{img}</td><td>{short}</td>{tail}</tr>")
    caption = escaped(page_caption(len(records), total, offset))
    return (f'<table class="kodisc-jobs-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody><caption style="caption-side:bottom">{caption}</caption></table>')


def spending_html(spent: dict[str, Any]) -> str:
    top = max((v for _, v in spent["days"]), default=0) or 1
    bars = "".join(
        f'<span title="{escaped(day)}: {escaped(format_credits(value))}" style="display:inline-block;width:10px;'
        f'margin-right:2px;vertical-align:bottom;background:#4c78a8;height:{max(1, round(24 * value / top))}px">'
        f"</span>" for day, value in spent["days"])
    return (f'<div class="kodisc-spending"><span style="display:inline-block;height:24px;margin-right:8px">{bars}</span>'
            f"{escaped(spending_text(spent))}</div>")


def thumbnail_data_url(path: str | Path | None) -> str | None:
    """A small `data:image/jpeg` URL for a local thumbnail (never a server URL, which may die)."""
    if not path or not Path(path).is_file():
        return None
    try:
        from io import BytesIO

        from PIL import Image

        with Image.open(path) as image:
            image.thumbnail((_THUMB_WIDTH, _THUMB_WIDTH))
            buffer = BytesIO()
            image.convert("RGB").save(buffer, format="JPEG", quality=70)
        data = buffer.getvalue()
    except ImportError:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if len(data) > _THUMB_MAX_BYTES:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def stored_player(record: Any) -> dict[str, Any]:
    """The job's player bundle from its saved files, all as data: URLs (a widget has no folder to resolve
    paths): our renderer's JSON first, the HTML player and its text beside it."""
    thumbnail, captions = record.thumbnail_path, record.captions_path
    vtt = captions.read_text(encoding="utf-8") if captions and captions.is_file() else None
    sources: dict[str, Any] = {
        "video_src": data_url(Path(record.video_path).read_bytes(), "video/mp4"),
        "poster_src": data_url(thumbnail.read_bytes(), "image/jpeg") if thumbnail and thumbnail.is_file() else None,
        "title": f"{record.class_name} · job {record.job_id}",
        "summary": (f"{record.class_name} · job {short_id(record.job_id)} · {format_duration(record.duration_ms)} · "
                    f"{format_credits(record.credits_cost)} credit{'' if record.credits_cost == 1 else 's'}"),
    }
    has_cues = bool(vtt) and vtt_has_cues(vtt or "")
    track = data_url((vtt or "").encode("utf-8"), "text/vtt") if has_cues else None
    return {PLAYER_MIME: player_data(captions_src=track, **sources),
            "text/html": _PLAYER_STYLE + player_html(captions_vtt=vtt, **sources),
            "text/plain": player_text(title=sources["title"], summary=sources["summary"])}

"""Save a finished job's video, thumbnail and captions under `data_dir()/media/<jobId>/`.

CDN URLs carry no documented lifetime, so a player, the cache and a saved notebook rely on
these local copies. Files are written atomically (a temporary file renamed into place), so an
interrupted download never leaves a truncated video that a later cache hit would reuse. A
missing or empty captions file means "no captions", never an error.
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .._files import ASSET_FILES, write_atomic
from .._logging import get_logger
from .._paths import data_dir
from ..contract._errors import APIResponseError

if TYPE_CHECKING:
    from ..client import AsyncKodisc, Job, Kodisc

__all__ = ["Assets", "fetch_assets", "afetch_assets", "media_dir", "vtt_has_cues"]

logger = get_logger("kodisc_jupyter.assets")

_SAFE_NAME_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")
_CUE_TIMING_RE = re.compile(
    r"^[ \t]*(?:\d+:)?\d{2}:\d{2}\.\d{3}[ \t]+-->[ \t]+(?:\d+:)?\d{2}:\d{2}\.\d{3}", re.MULTILINE
)


@dataclass(frozen=True)
class Assets:
    """Local copies of a job's files; None where the job has no such file."""

    video: Path | None = None
    thumbnail: Path | None = None
    captions: Path | None = None


def vtt_has_cues(text: str) -> bool:
    """True if a WebVTT text holds at least one cue (a header alone shows nothing)."""
    return bool(_CUE_TIMING_RE.search(text))


def media_dir(job_id: str) -> Path:
    """`data_dir()/media/<jobId>`; an id that is not a safe file name is hashed instead."""
    name = job_id if _SAFE_NAME_RE.fullmatch(job_id) else hashlib.sha256(job_id.encode()).hexdigest()[:32]
    return data_dir() / "media" / name


def fetch_assets(client: Kodisc, job: Job, dest_dir: str | os.PathLike[str] | None = None) -> Assets:
    """Download what is not saved yet with `client.download(url)`; a video download error propagates."""
    found: dict[str, Path | None] = {}
    for kind, url, target in _plan(job, dest_dir):
        found[kind] = _existing(kind, target)
        if found[kind] is None and url:
            found[kind] = _download(kind, target, functools.partial(client.download, url))
    return Assets(**found)


async def afetch_assets(client: AsyncKodisc, job: Job, dest_dir: str | os.PathLike[str] | None = None) -> Assets:
    """`fetch_assets` for `AsyncKodisc`."""
    found: dict[str, Path | None] = {}
    for kind, url, target in _plan(job, dest_dir):
        found[kind] = _existing(kind, target)
        if found[kind] is None and url:
            try:
                data = await client.download(url)
            except Exception as exc:
                _captions_or_raise(kind, exc)
                continue
            found[kind] = _save(kind, target, data)
    return Assets(**found)


def _plan(job: Job, dest_dir: str | os.PathLike[str] | None) -> list[tuple[str, str | None, Path]]:
    folder = Path(dest_dir) if dest_dir is not None else media_dir(job.job_id)
    result = job.result
    return [(kind, getattr(result, kind, None), folder / name) for kind, name in ASSET_FILES.items()]


def _existing(kind: str, target: Path) -> Path | None:
    """A file saved by an earlier call (captions only if they have cues)."""
    try:
        if kind == "captions":
            return target if vtt_has_cues(target.read_text(encoding="utf-8", errors="replace")) else None
        return target if target.stat().st_size > 0 else None
    except OSError:
        return None


def _download(kind: str, target: Path, fetch: Callable[[], bytes]) -> Path | None:
    try:
        data = fetch()
    except Exception as exc:
        _captions_or_raise(kind, exc)
        return None
    return _save(kind, target, data)


def _captions_or_raise(kind: str, exc: Exception) -> None:
    """Captions that cannot be fetched are "no captions"; any other file's error propagates."""
    if kind != "captions":
        raise exc
    logger.info("No captions for this job (%s).", exc)


def _save(kind: str, target: Path, data: bytes) -> Path | None:
    if kind == "captions" and not vtt_has_cues(data.decode("utf-8", errors="replace")):
        return None
    if not data:

        raise APIResponseError(f"Kodisc sent an empty {kind} file; render the scene again (--force).", field=kind)
    return write_atomic(target, data, mode=0o600)


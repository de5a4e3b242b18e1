"""Store records as the contract's JSON, built with the client's own models so the shapes match exactly."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from .._files import ASSET_FILES
from ..contract._models import Account, Credits, Job, RenderProgress, RenderResult
from ._store import KeyRecord, StoredJob


def _moment(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, timezone.utc)


def _created(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


def job_view(job: StoredJob, public_url: str, progress: RenderProgress | None = None) -> dict[str, Any]:
    """`GET /render/{jobId}`'s body; asset URLs are absolute (`public_url` is `http://host:port`).

    `progress` (a running local render's) is an extra field Kodisc does not send.

    `error` quotes the user's exception, which may quote a key their code holds: only its prefix goes out.
    """
    result = None
    if job.status == "completed":
        result = RenderResult(**{field: f"{public_url}/r/{job.job_id}/{name}" for field, name in ASSET_FILES.items()})
    terminal = job.status in ("completed", "failed")
    return Job(job_id=job.job_id, status=job.status, created_at=_created(job.created_ms),
               credits_cost=job.credits_cost if terminal else 0, duration_ms=job.duration_ms if terminal else None,
               result=result, error=job.error if job.status == "failed" and job.error else None, metadata=job.metadata,
               completed_at=_moment(job.completed_ms) if terminal else None, progress=progress).to_dict()


def job_body(job: StoredJob, public_url: str) -> bytes:
    """The exact bytes of a webhook delivery (signed as they are sent)."""
    return json.dumps(job_view(job, public_url), separators=(",", ":")).encode("utf-8")


def account_view(key: KeyRecord, paid: int, free: int) -> dict[str, Any]:
    return Account(user_id=key.user_id, key_id=key.key_id, key_prefix=key.prefix,
                   credits=Credits(paid=paid, free=free, total=paid + free)).to_dict()

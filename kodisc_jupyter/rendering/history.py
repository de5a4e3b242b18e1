"""The job history and render cache: one SQLite row per job, shared by every kernel.

Several kernels (processes) and the background worker thread of each write at once, so the
database runs in WAL mode with a busy timeout, each thread has its own connection and every
write is one short `BEGIN IMMEDIATE` transaction. History is a convenience, never a reason for a
render to fail: if the file is unreadable, corrupt, written by a newer schema or in a read-only
place, `History` warns once (naming the file) and turns into a no-op for the session.

The API key is never stored: only its display prefix, and any full key found in a stored text
(class name, code, metadata, error, URLs) is cut down to that prefix.
"""
from __future__ import annotations

import builtins
import contextlib
import hashlib
import json
import os
import sqlite3
import statistics
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from .._logging import get_logger
from .._paths import data_dir
from .._redact import key_prefix as display_prefix
from .._redact import redact
from .._sqlite import SchemaTooNewError, migrate, rollback
from .._timestamps import format_timestamp, parse_timestamp
from ..contract._models import Job, RenderResult
from ..contract._rules import COMPLETED

__all__ = ["History", "JobRecord", "HistoryUnavailableWarning", "cache_key", "SCHEMA_VERSION"]

logger = get_logger("kodisc_jupyter.history")

DEFAULT_BUSY_TIMEOUT = 5.0  # seconds a write may wait for another kernel's before it is skipped
_WARNED: set[str] = set()  # files already warned about in this process: warn once per session
_T = TypeVar("_T")

#: Append a migration to change the schema (`kodisc_jupyter._sqlite.migrate`).
_MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1
    """
    CREATE TABLE jobs (
        job_id          TEXT PRIMARY KEY,
        backend         TEXT NOT NULL,
        base_url        TEXT NOT NULL,
        key_prefix      TEXT,
        class_name      TEXT NOT NULL,
        quality         TEXT,
        aspect_ratio    TEXT,
        fps             INTEGER,
        code_hash       TEXT NOT NULL,
        code            TEXT NOT NULL,
        metadata        TEXT,
        status          TEXT NOT NULL,
        credits_cost    REAL NOT NULL DEFAULT 0,
        duration_ms     INTEGER,
        created_at      TEXT,
        completed_at    TEXT,
        video_url       TEXT,
        thumbnail_url   TEXT,
        captions_url    TEXT,
        error           TEXT,
        video_path      TEXT,
        thumbnail_path  TEXT,
        captions_path   TEXT,
        cache_key       TEXT,
        recorded_at     TEXT NOT NULL,
        updated_at      TEXT NOT NULL
    );
    CREATE INDEX jobs_cache_key ON jobs (cache_key, status);
    CREATE INDEX jobs_created ON jobs (created_at);
    CREATE INDEX jobs_quality_backend ON jobs (quality, backend, status);
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)


class HistoryUnavailableWarning(UserWarning):
    """The history file cannot be used; renders go on without history for this session."""


def cache_key(
    *,
    code: str,
    class_name: str,
    quality: str | None,
    aspect_ratio: str | None,
    fps: int | None,
    backend: str,
    base_url: str,
    files: dict[str, str] | None = None,
) -> str:
    """Identity of a render request: `code` is the prelude + cell code exactly as sent; `files`, the
    digests of the files beside the notebook it reads (a changed diagram.png renders anew)."""
    identity: dict[str, object] = {
        "v": 1,
        "code": code,
        "class_name": class_name,
        "quality": quality,
        "aspect_ratio": aspect_ratio,
        "fps": fps,
        "backend": backend,
        "base_url": base_url.rstrip("/"),
    }
    if files:  # only then: every other key stays as it was
        identity["files"] = files
    blob = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class JobRecord:
    """One history row. Timestamps are timezone-aware UTC datetimes."""

    job_id: str
    backend: str
    base_url: str
    key_prefix: str | None
    class_name: str
    quality: str | None
    aspect_ratio: str | None
    fps: int | None
    code_hash: str
    code: str
    metadata: Any
    status: str
    credits_cost: float
    duration_ms: int | None
    created_at: datetime | None
    completed_at: datetime | None
    video_url: str | None
    thumbnail_url: str | None
    captions_url: str | None
    error: str | None
    video_path: Path | None
    thumbnail_path: Path | None
    captions_path: Path | None
    cache_key: str | None
    recorded_at: datetime
    updated_at: datetime

    def to_job(self) -> Job:
        """The client's `Job` as last recorded (so a cached or resumed job reads like a fresh one)."""
        urls = (self.video_url, self.thumbnail_url, self.captions_url)
        result = None
        if self.status == COMPLETED or any(urls):
            result = RenderResult(video=urls[0], thumbnail=urls[1], captions=urls[2])
        return Job(
            job_id=self.job_id,
            status=self.status,
            credits_cost=self.credits_cost,
            duration_ms=self.duration_ms,
            result=result,
            error=self.error,
            metadata=self.metadata,
            created_at=self.created_at or self.recorded_at,
            completed_at=self.completed_at,
        )


class History:
    """The job history at `path` (default `data_dir()/history.sqlite3`); safe across threads and processes.

    `busy_timeout` bounds how long one step may wait for other writers; past it the step is
    skipped (and logged) rather than hold a cell up.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.path = Path(path) if path is not None else data_dir() / "history.sqlite3"
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[tuple[int, sqlite3.Connection]] = []
        self._lock = threading.Lock()
        self._disabled = False

    @property
    def enabled(self) -> bool:
        """False once the file proved unusable (history is then off for this session)."""
        return not self._disabled

    def __repr__(self) -> str:
        state = "on" if self.enabled else "off"
        return f"<History {str(self.path)!r} ({state})>"

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------

    def record_submitted(
        self,
        job: Job,
        *,
        backend: str,
        base_url: str,
        key_prefix: str | None,
        class_name: str,
        quality: str | None,
        aspect_ratio: str | None,
        fps: int | None,
        code: str,
        metadata: Any = None,
        cache_key: str | None = None,
    ) -> None:
        """Write the row for a job the server just accepted (before any polling)."""
        now = _now_text()
        row = {
            "job_id": job.job_id,
            "backend": backend,
            "base_url": _redact(base_url.rstrip("/")),
            "key_prefix": _display_prefix(key_prefix),
            "class_name": _redact(class_name),  # `kdsc_live_…` is a valid identifier too
            "quality": quality,
            "aspect_ratio": aspect_ratio,
            "fps": fps,
            "code_hash": hashlib.sha256(code.encode("utf-8")).hexdigest(),
            "code": _redact(code),
            "metadata": _redact(json.dumps(metadata)) if metadata is not None else None,
            "cache_key": cache_key,
            "recorded_at": now,
            "updated_at": now,
            **_job_fields(job),
        }
        columns = ", ".join(row)
        placeholders = ", ".join(f":{name}" for name in row)
        updates = ", ".join(f"{name} = excluded.{name}" for name in row if name not in ("job_id", "recorded_at"))
        sql = f"INSERT INTO jobs ({columns}) VALUES ({placeholders}) ON CONFLICT(job_id) DO UPDATE SET {updates}"
        self._write(lambda db: db.execute(sql, row), None)

    def record_update(self, job: Job) -> bool:
        """Store a polled state; a terminal row is never moved back to queued/running. True if a row changed."""
        fields = {**_job_fields(job), "job_id": job.job_id, "updated_at": _now_text()}
        assignments = ", ".join(
            f"{name} = COALESCE(:{name}, {name})" if name == "created_at" else f"{name} = :{name}"
            for name in fields
            if name != "job_id"
        )
        sql = (
            f"UPDATE jobs SET {assignments} WHERE job_id = :job_id "
            "AND (status NOT IN ('completed', 'failed') OR :status IN ('completed', 'failed'))"
        )
        return self._write(lambda db: db.execute(sql, fields).rowcount > 0, False)

    def set_assets(
        self,
        job_id: str,
        *,
        video: str | os.PathLike[str] | None = None,
        thumbnail: str | os.PathLike[str] | None = None,
        captions: str | os.PathLike[str] | None = None,
    ) -> bool:
        """Record where the job's files were saved; None leaves a path as it was. True if a row changed."""
        paths = {"video_path": video, "thumbnail_path": thumbnail, "captions_path": captions}
        given = {name: str(Path(value)) for name, value in paths.items() if value is not None}
        if not given:
            return False
        assignments = ", ".join(f"{name} = :{name}" for name in given)
        params = {**given, "job_id": job_id, "updated_at": _now_text()}
        sql = f"UPDATE jobs SET {assignments}, updated_at = :updated_at WHERE job_id = :job_id"
        return self._write(lambda db: db.execute(sql, params).rowcount > 0, False)

    # -- reading ------------------------------------------------------------------------------

    def get(self, job_id: str) -> JobRecord | None:
        rows = self._read("SELECT * FROM jobs WHERE job_id = ?", (job_id,))
        return _record(rows[0]) if rows else None

    def find_cached(self, key: str) -> JobRecord | None:
        """The newest completed job with this cache key, or None."""
        rows = self._read(
            "SELECT * FROM jobs WHERE cache_key = ? AND status = 'completed' "
            "ORDER BY COALESCE(completed_at, created_at, recorded_at) DESC, rowid DESC LIMIT 1",
            (key,),
        )
        return _record(rows[0]) if rows else None

    def find_pending(self, key: str) -> JobRecord | None:
        """The newest queued or running job with this cache key (a batch interrupted earlier), or None."""
        rows = self._read("SELECT * FROM jobs WHERE cache_key = ? AND status IN ('queued', 'running') "
                          "ORDER BY rowid DESC LIMIT 1", (key,))
        return _record(rows[0]) if rows else None

    def list(self, *, limit: int = 20, offset: int = 0, status: str | None = None) -> list[JobRecord]:
        """Jobs newest first (by the service's creation time, then by when they were recorded)."""
        where, params = _status_filter(status)
        rows = self._read(
            f"SELECT * FROM jobs {where} ORDER BY COALESCE(created_at, recorded_at) DESC, rowid DESC "
            "LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [_record(row) for row in rows]

    def count(self, status: str | None = None) -> int:
        where, params = _status_filter(status)
        rows = self._read(f"SELECT COUNT(*) FROM jobs {where}", params)
        return int(rows[0][0]) if rows else 0

    def credits_spent(self, since: datetime) -> float:
        """Credits settled by jobs that ended (or, if never ended, started) at or after `since`."""
        rows = self._read(
            "SELECT COALESCE(SUM(credits_cost), 0) FROM jobs "
            "WHERE COALESCE(completed_at, created_at, recorded_at) >= ?",
            (_timestamp_text(since),),
        )
        return float(rows[0][0]) if rows else 0.0

    def median_duration_ms(self, *, quality: str | None, backend: str, sample: int = 50) -> int | None:
        """Median render time of the last `sample` completed jobs of this quality and backend."""
        rows = self._read(
            "SELECT duration_ms FROM jobs WHERE quality IS ? AND backend = ? AND status = 'completed' "
            "AND duration_ms IS NOT NULL ORDER BY rowid DESC LIMIT ?",
            (quality, backend, sample),
        )
        return int(statistics.median(row[0] for row in rows)) if rows else None

    def last_duration_ms(self, *, class_name: str, quality: str | None, backend: str) -> int | None:
        """How long the last completed render of this class at this quality took (an ETA's basis), or None."""
        rows = self._read(
            "SELECT duration_ms FROM jobs WHERE class_name = ? AND quality IS ? AND backend = ? "
            "AND status = 'completed' AND duration_ms IS NOT NULL ORDER BY rowid DESC LIMIT 1",
            (class_name, quality, backend),
        )
        return int(rows[0][0]) if rows else None

    def estimated_credits(self, *, class_name: str, quality: str | None, backend: str, sample: int = 50) -> float | None:
        """What a render will likely cost: the last completed render of this class at this quality,
        else the median of the last `sample` completed ones of this quality (None: no history)."""
        where = "quality IS ? AND backend = ? AND status = 'completed' AND credits_cost IS NOT NULL"
        same = self._read(f"SELECT credits_cost FROM jobs WHERE {where} AND class_name = ? ORDER BY rowid DESC LIMIT 1",
                          (quality, backend, class_name))
        if same:
            return float(same[0][0])
        rows = self._read(f"SELECT credits_cost FROM jobs WHERE {where} ORDER BY rowid DESC LIMIT ?", (quality, backend, sample))
        return float(statistics.median(row[0] for row in rows)) if rows else None

    def close(self) -> None:
        """Close every thread's connection; later calls reopen as needed."""
        with self._lock:
            connections, self._connections = self._connections, []
        for pid, connection in connections:
            if pid != os.getpid():
                continue  # inherited through fork: the parent still owns it
            with contextlib.suppress(sqlite3.Error):
                connection.close()
        self._local = threading.local()

    # -- plumbing -----------------------------------------------------------------------------

    def _read(self, sql: str, params: Any = ()) -> builtins.list[sqlite3.Row]:
        return self._guard(lambda: self._connection().execute(sql, params).fetchall(), [])

    def _write(self, operation: Callable[[sqlite3.Connection], _T], default: _T) -> _T:
        def run() -> _T:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
            try:
                result = operation(db)
            except BaseException:
                rollback(db)
                raise
            db.execute("COMMIT")
            return result

        return self._guard(run, default)

    def _guard(self, operation: Callable[[], _T], default: _T) -> _T:
        """Run a database operation; a busy database skips it, a broken one turns history off."""
        if self._disabled:
            return default
        try:
            return operation()
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                logger.warning("History %s stayed busy for %.1f s; skipped one step (%s).", self.path,
                               self.busy_timeout, exc)
                return default
            self._disable(exc)
        except (sqlite3.DatabaseError, OSError, SchemaTooNewError) as exc:
            self._disable(exc)
        return default

    def _disable(self, exc: BaseException) -> None:
        self._disabled = True
        self.close()
        key = str(self.path.resolve())
        if key in _WARNED:
            return
        _WARNED.add(key)
        reason = str(exc) or type(exc).__name__
        warnings.warn(
            f"Kodisc history file {self.path} cannot be used ({reason}); "
            "history and the render cache are off for this session.",
            HistoryUnavailableWarning,
            stacklevel=2,
        )

    def _connection(self) -> sqlite3.Connection:
        local = self._local
        connection = getattr(local, "connection", None)
        if connection is not None and local.pid == os.getpid():
            return connection
        connection = self._open()
        local.connection, local.pid = connection, os.getpid()
        with self._lock:
            self._connections.append((os.getpid(), connection))
        return connection

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            connection.row_factory = sqlite3.Row
            connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            _use_wal(connection, self.busy_timeout)
            connection.execute("PRAGMA synchronous = NORMAL")
            migrate(connection, _MIGRATIONS)
        except BaseException:
            connection.close()
            raise
        return connection


def _use_wal(db: sqlite3.Connection, timeout: float) -> None:
    """Switch a new file to WAL. The switch needs an exclusive lock and SQLite answers "locked" at
    once (ignoring busy_timeout) while another kernel opens the same new file, so retry briefly."""
    deadline = time.monotonic() + timeout
    while db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            db.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    message = str(exc).lower()
    return "locked" in message or "busy" in message


def _status_filter(status: str | None) -> tuple[str, tuple[Any, ...]]:
    return ("WHERE status = ?", (status,)) if status is not None else ("", ())


def _job_fields(job: Job) -> dict[str, Any]:
    result = job.result
    return {
        "status": job.status,
        "credits_cost": float(job.credits_cost or 0),
        "duration_ms": job.duration_ms,
        "created_at": _timestamp_text(job.created_at),
        "completed_at": _timestamp_text(job.completed_at),
        "video_url": _redact(getattr(result, "video", None)),
        "thumbnail_url": _redact(getattr(result, "thumbnail", None)),
        "captions_url": _redact(getattr(result, "captions", None)),
        "error": _redact(job.error),
    }


def _record(row: sqlite3.Row) -> JobRecord:
    def path(name: str) -> Path | None:
        return Path(row[name]) if row[name] else None

    return JobRecord(
        job_id=row["job_id"],
        backend=row["backend"],
        base_url=row["base_url"],
        key_prefix=row["key_prefix"],
        class_name=row["class_name"],
        quality=row["quality"],
        aspect_ratio=row["aspect_ratio"],
        fps=row["fps"],
        code_hash=row["code_hash"],
        code=row["code"],
        metadata=json.loads(row["metadata"]) if row["metadata"] is not None else None,
        status=row["status"],
        credits_cost=row["credits_cost"],
        duration_ms=row["duration_ms"],
        created_at=_parse_timestamp(row["created_at"]),
        completed_at=_parse_timestamp(row["completed_at"]),
        video_url=row["video_url"],
        thumbnail_url=row["thumbnail_url"],
        captions_url=row["captions_url"],
        error=row["error"],
        video_path=path("video_path"),
        thumbnail_path=path("thumbnail_path"),
        captions_path=path("captions_path"),
        cache_key=row["cache_key"],
        recorded_at=_parse_timestamp(row["recorded_at"]),  # type: ignore[arg-type]
        updated_at=_parse_timestamp(row["updated_at"]),  # type: ignore[arg-type]
    )


def _display_prefix(key_prefix: str | None) -> str | None:
    """Keep at most the display prefix: a full key handed in by mistake is cut down, never stored."""
    if key_prefix and key_prefix.startswith("kdsc_"):
        return display_prefix(key_prefix)
    return key_prefix


def _redact(text: str | None) -> str | None:
    return redact(text) if text else text


def _now_text() -> str:
    return _timestamp_text(datetime.now(timezone.utc))  # type: ignore[return-value]


def _timestamp_text(value: datetime | None) -> str | None:
    """The contract's form, which sorts as text; a naive datetime is taken as UTC."""
    if value is None:
        return None
    return format_timestamp(value if value.tzinfo else value.replace(tzinfo=timezone.utc))


def _parse_timestamp(text: str | None) -> datetime | None:
    return parse_timestamp(text) if text else None

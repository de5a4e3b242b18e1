"""The gateway renderer (`kodisc serve --renderer kodisc`): each job goes to Kodisc, paid once per identical render.

A class shares one Kodisc key, the teacher's, which never leaves this process: students are
the server's own users and see only their own jobs, whose files are the gateway's copies. A
job's *identity* is its code, class, quality, aspect, fps and (policy `exact`) its metadata as
canonical JSON. A completed upstream render of an identity answers every later job of that
identity, for any user, with no request to Kodisc; jobs arriving while it runs wait for it.
Such jobs cost their student nothing: the render was paid once. `ClassLedger` keeps the
renders and which job was answered how, for the teacher's savings report.

The upstream calls are the project's `AsyncKodisc`: its retry policy, its errors (never the
key), its poll policy. The runner's workers are the upstream concurrency: a job holds one from
the moment it is forwarded (or waits for its twin) until it is settled.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import math
import shutil
import sqlite3
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._files import ASSET_FILES
from .._sqlite import migrate
from ..client._client import AsyncKodisc
from ..contract._errors import (
    APIConnectionError,
    AuthenticationError,
    InsufficientCreditsError,
    KodiscError,
    WaitTimeoutError,
)
from ._pricing import reserve_for
from ._render_job import write_last_frame
from ._renderers import OUTPUT_FILES
from ._store import StoredJob, now_ms

LEDGER_FILE = "gateway.sqlite3"
_EMPTY_CAPTIONS = "WEBVTT\n\n"

_SCHEMA = """
CREATE TABLE renders (identity TEXT PRIMARY KEY, upstream_job_id TEXT NOT NULL, quality TEXT NOT NULL,
    upstream_cost INTEGER NOT NULL, completed_ms INTEGER NOT NULL);
CREATE TABLE served (job_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, identity TEXT NOT NULL, how TEXT NOT NULL,
    upstream_cost INTEGER NOT NULL, created_ms INTEGER NOT NULL);
"""


def render_identity(job: StoredJob, metadata_policy: str = "exact") -> str:
    """What makes two jobs the same render; `ignore` leaves metadata out (Kodisc only echoes it)."""
    parts: dict[str, Any] = {"code": job.code, "className": job.class_name, "quality": job.quality,
                             "aspectRatio": job.aspect_ratio, "fps": job.fps}
    if metadata_policy == "exact":
        parts["metadata"] = job.metadata
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Outcome:
    """How one job was answered: `how` is upstream, cached, coalesced; `error` set when it failed."""

    how: str
    upstream_cost: int = 0
    error: str | None = None


@dataclass(frozen=True)
class UserSavings:
    user: str
    jobs: int
    upstream: int  # jobs this user's request sent to Kodisc
    shared: int  # jobs answered by a render another request paid for
    upstream_credits: int  # what Kodisc charged for this user's forwarded jobs
    would_have: int  # what Kodisc would have charged for all of this user's jobs


class ClassLedger:
    """`gateway.sqlite3`: completed upstream renders by identity, and how each job was answered."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        migrate(self._db, (_SCHEMA,))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def completed(self, identity: str) -> sqlite3.Row | None:
        with self._lock:
            return self._db.execute("SELECT * FROM renders WHERE identity = ?", (identity,)).fetchone()

    def forget(self, identity: str) -> None:
        """Its files are gone: the next job of this identity goes upstream again."""
        with self._lock:
            self._db.execute("DELETE FROM renders WHERE identity = ?", (identity,))

    def add_render(self, identity: str, upstream_job_id: str, quality: str, cost: int) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO renders VALUES (?, ?, ?, ?, ?)",
                             (identity, upstream_job_id, quality, cost, now_ms()))

    def add_served(self, job: StoredJob, identity: str, outcome: Outcome) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO served VALUES (?, ?, ?, ?, ?, ?)",
                             (job.job_id, job.user_id, identity, outcome.how, outcome.upstream_cost, now_ms()))

    def savings(self) -> list[UserSavings]:
        """Per user: jobs answered, and Kodisc credits paid versus what independent renders would have cost."""
        with self._lock:
            rows = self._db.execute(
                "SELECT user_id, COUNT(*) AS jobs, SUM(how = 'upstream') AS upstream, SUM(how != 'upstream') AS shared,"
                " SUM(CASE WHEN how = 'upstream' THEN upstream_cost ELSE 0 END) AS paid, SUM(upstream_cost) AS would"
                " FROM served GROUP BY user_id ORDER BY user_id").fetchall()
        return [UserSavings(row["user_id"], row["jobs"], row["upstream"], row["shared"], row["paid"], row["would"])
                for row in rows]


class KodiscRenderer:
    """Renders by forwarding to Kodisc (see the module docstring); files are kept in `cache_dir/<identity>/`."""

    unsandboxed_problem = None  # nothing runs here: scenes render on Kodisc

    def __init__(self, data_dir: Path, *, upstream_url: str | None, exchange_rate: float, metadata_policy: str,
                 timeout: float) -> None:
        self.client = AsyncKodisc(base_url=upstream_url)
        if self.client.key_prefix is None:
            raise ValueError("the gateway needs the Kodisc key it renders with: set KODISC_API_KEY (or KODISC_KEY, "
                             "or save it with %kodisc_login) before `kodisc serve --renderer kodisc`.")
        self.upstream_url = self.client.base_url
        self.exchange_rate, self.metadata_policy, self.timeout = exchange_rate, metadata_policy, timeout
        self.cache_dir = data_dir / "gateway"
        self.cache_dir.mkdir(mode=0o700, exist_ok=True)
        self.ledger = ClassLedger(data_dir / LEDGER_FILE)
        self._running: dict[str, asyncio.Future[Outcome]] = {}  # identity -> the upstream render in flight
        self._costs: dict[str, int] = {}  # job id -> what its student pays, until the runner settles it
        self._identities: dict[str, str] = {}  # job id -> its render's identity, while it renders
        self._shown: dict[str, str] = {}  # job id -> what Kodisc last said of its render, while it renders
        self._upstream: dict[str, str] = {}  # identity -> what Kodisc last said of that render in flight

    async def start(self, work_dir: Path) -> None:
        """Nothing to warm up: the client connects on first use."""

    async def stop(self) -> None:
        await self.client.close()
        self.ledger.close()

    def helper_folders(self, job_id: str) -> list[Path]:
        """A forwarded job has no local workers (their progress is Kodisc's)."""
        return []

    def queued_elsewhere(self, job_id: str) -> bool:
        """Kodisc still has this job's render queued (a twin shows what the render it waits for shows)."""
        return self._shown.get(job_id) == "queued"

    def _mirror(self, identity: str, status: str) -> None:
        """What Kodisc says of the render in flight, for the job that sent it and every twin waiting for it."""
        self._upstream[identity] = status
        for job_id, same in self._identities.items():
            if same == identity:
                self._shown[job_id] = status

    def reserve(self, quality: str) -> int:
        """The POST's reserve: one second at this quality, in the class's credits."""
        return max(1, math.ceil(reserve_for(quality) * self.exchange_rate))

    def cost(self, job: StoredJob, duration_ms: int) -> int:
        """The student's price: Kodisc's cost times the exchange rate, or nothing when another job paid."""
        return self._costs.pop(job.job_id, 0)

    async def render(self, job: StoredJob, folder: Path, width: int, height: int) -> str | None:
        identity = render_identity(job, self.metadata_policy)
        self._identities[job.job_id], self._shown[job.job_id] = identity, "queued"  # queued until Kodisc says
        try:
            outcome = await self._answer(job, identity)
        finally:
            self._identities.pop(job.job_id, None)
            self._shown.pop(job.job_id, None)
        if outcome.error is None:
            try:
                await asyncio.to_thread(_copy_outputs, self.cache_dir / identity, folder)
            except OSError:  # the copy was removed by hand: render it again next time
                await asyncio.to_thread(self.ledger.forget, identity)
                outcome = Outcome(outcome.how, error="the gateway lost its copy of this render; render again.")
        if outcome.how == "upstream":  # what Kodisc charged (a failure too, when the runner charges it)
            self._costs[job.job_id] = math.ceil(outcome.upstream_cost * self.exchange_rate)
        await asyncio.to_thread(self.ledger.add_served, job, identity,
                                outcome if outcome.error is None else Outcome(outcome.how, 0, outcome.error))
        return outcome.error

    async def _answer(self, job: StoredJob, identity: str) -> Outcome:
        """From a completed render, from the one in flight, or from a new upstream render."""
        done = await asyncio.to_thread(self.ledger.completed, identity)
        if done is not None and (self.cache_dir / identity).is_dir():
            self._shown[job.job_id] = "running"  # its files are being copied
            return Outcome("cached", done["upstream_cost"])
        twin = self._running.get(identity)
        if twin is not None:
            self._shown[job.job_id] = self._upstream.get(identity, "queued")
            shared = await asyncio.shield(twin)
            return Outcome("coalesced", shared.upstream_cost, shared.error)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._running[identity] = future
        self._upstream[identity] = "queued"
        try:
            outcome = await self._forward(job, identity)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:  # a bug or a full disk here must end the twins too, never leave them waiting
            outcome = Outcome("upstream", error=f"the gateway could not forward this job ({type(exc).__name__}); "
                                                "render again.")
        finally:
            self._running.pop(identity, None)
            self._upstream.pop(identity, None)
        future.set_result(outcome)
        return outcome

    async def _forward(self, job: StoredJob, identity: str) -> Outcome:
        try:
            queued = await self.client.render(job.code, job.class_name, quality=job.quality,
                                              aspect_ratio=job.aspect_ratio, fps=job.fps, metadata=job.metadata,
                                              webhook_url=None)
            self._mirror(identity, queued.status)
            final = await self.client.wait(queued, timeout=self.timeout,
                                           on_update=lambda update: self._mirror(identity, update.status))
        except InsufficientCreditsError as exc:
            return Outcome("upstream", error=f"the class's Kodisc account cannot pay for this render ({exc.summary}); "
                                             "tell your teacher.")
        except AuthenticationError as exc:
            return Outcome("upstream", error=f"Kodisc refused the class's key ({exc.summary}); tell your teacher.")
        except WaitTimeoutError:
            return Outcome("upstream", error=f"Kodisc did not finish this render within {self.timeout:g} s; "
                                             "render again later.")
        except APIConnectionError as exc:
            return Outcome("upstream", error=f"Kodisc could not be reached ({exc.summary}); render again later.")
        except KodiscError as exc:
            return Outcome("upstream", error=f"Kodisc refused this render: {exc.summary}")
        cost = math.ceil(final.credits_cost or 0)
        if final.status != "completed":
            return Outcome("upstream", cost, final.error or "Kodisc failed this render without saying why.")
        try:
            await self._keep(final, identity)
        except KodiscError as exc:
            return Outcome("upstream", cost, f"the gateway could not fetch this render's files from Kodisc "
                                             f"({exc.summary}); render again.")
        await asyncio.to_thread(self.ledger.add_render, identity, final.job_id, job.quality, cost)
        return Outcome("upstream", cost)

    async def _keep(self, final: Any, identity: str) -> None:
        """Download the result into the gateway's cache (a temp folder renamed whole: never half a copy)."""
        urls = {name: getattr(final.result, field, None) if final.result else None
                for field, name in ASSET_FILES.items()}
        if not urls["video.mp4"]:
            raise APIConnectionError("Kodisc's completed job has no video URL")
        partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=self.cache_dir))
        try:
            for name, url in urls.items():
                if url:
                    (partial / name).write_bytes(await self.client.download(url))
            await asyncio.to_thread(_complete_outputs, partial)
            target = self.cache_dir / identity
            await asyncio.to_thread(shutil.rmtree, target, True)
            partial.rename(target)
        finally:
            shutil.rmtree(partial, ignore_errors=True)


def _complete_outputs(folder: Path) -> None:
    """A result without captions gets an empty WebVTT file, one without a thumbnail the video's last frame."""
    captions = folder / ASSET_FILES["captions"]
    if not captions.is_file() or not captions.stat().st_size:
        captions.write_text(_EMPTY_CAPTIONS, encoding="utf-8")
    thumb = folder / ASSET_FILES["thumbnail"]
    if not thumb.is_file():
        write_last_frame(folder / ASSET_FILES["video"], thumb)


def _copy_outputs(source: Path, folder: Path) -> None:
    for name in OUTPUT_FILES:
        shutil.copyfile(source / name, folder / name)  # a copy per job: each job's files are its own


def savings_report(data_dir: Path, names: dict[str, str] | None = None) -> str:
    """The teacher's view: Kodisc credits spent versus what the students' renders would have cost alone."""
    path = data_dir / LEDGER_FILE
    if not path.is_file():
        return f"No gateway has served jobs from {data_dir} yet (start one with `kodisc serve --renderer kodisc`)."
    ledger = ClassLedger(path)
    try:
        rows = ledger.savings()
    finally:
        ledger.close()
    names = names or {}
    jobs = sum(row.jobs for row in rows)
    paid = sum(row.upstream_credits for row in rows)
    would = sum(row.would_have for row in rows)
    sent = sum(row.upstream for row in rows)
    share = f" ({100 * (would - paid) / would:.0f}%)" if would else ""
    lines = [f"{jobs} jobs from {len(rows)} users; {sent} went to Kodisc, {jobs - sent} were answered by a render "
             "already paid for.",
             f"Kodisc credits spent: {paid}; the same jobs rendered one by one: {would}; saved {would - paid}{share}.",
             f"{'USER':<24} {'JOBS':>5} {'SENT':>5} {'SHARED':>6} {'SPENT':>6} {'ALONE':>6}"]
    for row in rows:
        user = names.get(row.user, row.user)
        lines.append(f"{user[:24]:<24} {row.jobs:>5} {row.upstream:>5} {row.shared:>6} {row.upstream_credits:>6} "
                     f"{row.would_have:>6}")
    return "\n".join(lines)

"""The local server's state in one SQLite file: users, keys, the credit ledger and jobs.

Keys are stored only as SHA-256 hashes (plus their display prefix). Credits live in a ledger of
signed entries, split into `paid` and `free` parts; the free part of a balance is the monthly
allowance plus this month's free entries, so it resets on the first of each month (UTC).
Every balance change happens in one `BEGIN IMMEDIATE` transaction, so concurrent POSTs (or a
`keys create` in another process) can never overdraw.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import sqlite3
import string
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._sqlite import Migration, migrate
from ..contract._rules import key_prefix, redact
from ._leftovers import CUT_MARGIN, MAX_ERROR_CHARS, cap_error

JOB_ID_ALPHABET = string.ascii_lowercase + string.digits
#: 25 characters like the contract's example (`clx9f0a1b0000abcd1234efgh`): 'c' + 24 random ones.
JOB_ID_LENGTH = 25

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS keys (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL, webhook_secret TEXT NOT NULL, default_webhook_url TEXT, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, job_id TEXT, kind TEXT NOT NULL,
    paid INTEGER NOT NULL, free INTEGER NOT NULL, period TEXT NOT NULL, created_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS ledger_user ON ledger(user_id, period);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, user_id TEXT NOT NULL, key_id TEXT NOT NULL,
    status TEXT NOT NULL, code TEXT NOT NULL, class_name TEXT NOT NULL, quality TEXT NOT NULL,
    aspect_ratio TEXT NOT NULL, fps INTEGER NOT NULL, metadata TEXT NOT NULL, webhook_url TEXT,
    reserved INTEGER NOT NULL, credits_cost INTEGER NOT NULL DEFAULT 0, duration_ms INTEGER, error TEXT,
    created_ms INTEGER NOT NULL, started_ms INTEGER, completed_ms INTEGER);
"""


def _add_server_id(db: sqlite3.Connection) -> None:
    """Jobs carry the server that runs them (files from before user_version may have the column)."""
    if "server_id" not in {row[1] for row in db.execute("PRAGMA table_info(jobs)")}:
        db.execute("ALTER TABLE jobs ADD COLUMN server_id TEXT")


def _redact_stored_errors(db: sqlite3.Connection) -> None:
    """Errors are redacted before they are stored; rows from before that are redacted once, here."""
    for job_id, error in db.execute("SELECT id, error FROM jobs WHERE error LIKE '%kdsc_live_%'").fetchall():
        db.execute("UPDATE jobs SET error = ? WHERE id = ?", (redact(error), job_id))


#: Append a migration to change the schema (`kodisc_jupyter._sqlite.migrate`).
def _cap_stored_errors(db: sqlite3.Connection) -> None:
    """Errors are capped before they are stored; longer rows from before that (a scene's 200 MB message) are cut
    once, here, reading only their start."""
    rows = db.execute("SELECT id, substr(error, 1, ?), length(error) FROM jobs WHERE length(error) > ?",
                      (MAX_ERROR_CHARS + CUT_MARGIN, MAX_ERROR_CHARS)).fetchall()
    for job_id, start, length in rows:
        db.execute("UPDATE jobs SET error = ? WHERE id = ?", (cap_error(start, redact, length=length), job_id))


_MIGRATIONS: tuple[Migration, ...] = (_SCHEMA, _add_server_id, _redact_stored_errors, _cap_stored_errors)


def _private_file(path: Path) -> None:
    """The database (and SQLite's -wal/-shm beside it, which copy its mode) readable by the owner only."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path.with_name(name), 0o600)


def now_ms() -> int:
    return int(time.time() * 1000)


def _period(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m")


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def new_job_id() -> str:
    return "c" + "".join(secrets.choice(JOB_ID_ALPHABET) for _ in range(JOB_ID_LENGTH - 1))


def is_job_id(text: str) -> bool:
    return len(text) == JOB_ID_LENGTH and text[0] == "c" and all(ch in JOB_ID_ALPHABET for ch in text)


class InsufficientCredits(Exception):
    """The balance is below the reserve a render needs."""


@dataclass(frozen=True)
class Credentials:
    """A new user's key and webhook secret; the repr shows only the key's display prefix."""

    user_id: str
    key_id: str
    api_key: str
    webhook_secret: str

    def __repr__(self) -> str:
        return f"Credentials(user_id={self.user_id!r}, key_id={self.key_id!r}, key_prefix={key_prefix(self.api_key)!r})"


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    user_id: str
    prefix: str
    webhook_secret: str
    default_webhook_url: str | None


@dataclass(frozen=True)
class StoredJob:
    job_id: str
    user_id: str
    key_id: str
    status: str
    code: str
    class_name: str
    quality: str
    aspect_ratio: str
    fps: int
    metadata: Any
    webhook_url: str | None
    reserved: int
    credits_cost: int
    duration_ms: int | None
    error: str | None
    created_ms: int
    started_ms: int | None
    completed_ms: int | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StoredJob:
        return cls(row["id"], row["user_id"], row["key_id"], row["status"], row["code"], row["class_name"],
                   row["quality"], row["aspect_ratio"], row["fps"], json.loads(row["metadata"]), row["webhook_url"],
                   row["reserved"], row["credits_cost"], row["duration_ms"], row["error"], row["created_ms"],
                   row["started_ms"], row["completed_ms"])


class Store:
    """Thread-safe access to the server's SQLite file (one connection behind a lock)."""

    def __init__(self, path: Path, *, monthly_free_credits: int) -> None:
        self.path = Path(path)
        self.monthly_free_credits = monthly_free_credits
        self._lock = threading.Lock()
        _private_file(self.path)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        migrate(self._db, _MIGRATIONS)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _transaction(self):
        return _Transaction(self._db, self._lock)

    # users and keys ---------------------------------------------------------------------
    def create_user(self, paid_credits: int = 0) -> Credentials:
        """A new user with one key, a webhook secret and `paid_credits` purchased credits."""
        api_key = "kdsc_live_" + secrets.token_hex(24)
        creds = Credentials("u_" + secrets.token_hex(8), "k_" + secrets.token_hex(8), api_key,
                            "whsec_" + secrets.token_hex(24))
        created = now_ms()
        with self._transaction() as db:
            db.execute("INSERT INTO users VALUES (?, ?)", (creds.user_id, created))
            db.execute("INSERT INTO keys VALUES (?, ?, ?, ?, ?, NULL, ?)",
                       (creds.key_id, creds.user_id, hash_key(api_key), key_prefix(api_key),
                        creds.webhook_secret, created))
            if paid_credits:
                self._add_entry(db, creds.user_id, None, "grant", paid_credits, 0, created)
        return creds

    def authenticate(self, api_key: str) -> KeyRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM keys WHERE key_hash = ?", (hash_key(api_key),)).fetchone()
        return _key(row) if row else None

    def key_by_id(self, key_id: str) -> KeyRecord:
        with self._lock:
            return _key(self._db.execute("SELECT * FROM keys WHERE id = ?", (key_id,)).fetchone())

    def find_key(self, ref: str) -> KeyRecord:
        """A key by its id, its display prefix or the whole key; ValueError (never echoing a key) otherwise."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM keys WHERE id = ? OR prefix = ? OR key_hash = ?",
                                    (ref, ref, hash_key(ref))).fetchall()
        if len(rows) != 1:
            problem = "no key" if not rows else f"{len(rows)} keys"
            raise ValueError(f"{problem} match {redact(ref)!r}; pass a key id (k_...) or a key prefix "
                             "(kdsc_live_xxxx) of this data dir.")
        return _key(rows[0])

    def set_default_webhook(self, key_id: str, url: str | None) -> None:
        with self._transaction() as db:
            db.execute("UPDATE keys SET default_webhook_url = ? WHERE id = ?", (url, key_id))

    # credits ------------------------------------------------------------------------------
    def balance(self, user_id: str, at_ms: int | None = None) -> tuple[int, int]:
        """(paid, free) credits available now (or at `at_ms`: the free part depends on the month)."""
        with self._lock:
            return self._balance(self._db, user_id, now_ms() if at_ms is None else at_ms)

    def _balance(self, db: sqlite3.Connection, user_id: str, at_ms: int) -> tuple[int, int]:
        paid = db.execute("SELECT COALESCE(SUM(paid), 0) FROM ledger WHERE user_id = ?", (user_id,)).fetchone()[0]
        free = db.execute("SELECT COALESCE(SUM(free), 0) FROM ledger WHERE user_id = ? AND period = ?",
                          (user_id, _period(at_ms))).fetchone()[0]
        return paid, max(0, self.monthly_free_credits + free)

    def _add_entry(self, db, user_id, job_id, kind, paid, free, at_ms, period=None) -> None:
        db.execute("INSERT INTO ledger (user_id, job_id, kind, paid, free, period, created_ms) VALUES (?,?,?,?,?,?,?)",
                   (user_id, job_id, kind, paid, free, period or _period(at_ms), at_ms))

    def _spend(self, db, user_id: str, job_id: str, kind: str, amount: int, at_ms: int) -> bool:
        """Take `amount` (free credits first, then paid); False, and nothing taken, if it is not there."""
        paid, free = self._balance(db, user_id, at_ms)
        if paid + free < amount:
            return False
        from_free = min(free, amount)
        self._add_entry(db, user_id, job_id, kind, -(amount - from_free), -from_free, at_ms)
        return True

    def _refund_reserve(self, db, user_id: str, job_id: str, at_ms: int) -> None:
        """Give back exactly what the reserve took, to the month it was taken from."""
        for row in db.execute("SELECT paid, free, period FROM ledger WHERE job_id = ? AND kind = 'reserve'",
                              (job_id,)).fetchall():
            self._add_entry(db, user_id, job_id, "refund", -row["paid"], -row["free"], at_ms, row["period"])

    # jobs ---------------------------------------------------------------------------------
    def create_job(self, key: KeyRecord, body: dict[str, Any], *, fps: int, webhook_url: str | None,
                   reserve: int, server_id: str) -> StoredJob:
        """Insert a queued job and take its reserve, or raise InsufficientCredits (and insert nothing)."""
        job_id, created = new_job_id(), now_ms()
        with self._transaction() as db:
            if not self._spend(db, key.user_id, job_id, "reserve", reserve, created):
                raise InsufficientCredits
            db.execute(
                "INSERT INTO jobs (id, user_id, key_id, status, code, class_name, quality, aspect_ratio, fps,"
                " metadata, webhook_url, reserved, created_ms, server_id)"
                " VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, key.user_id, key.key_id, body["code"], body["className"], body["quality"],
                 body["aspectRatio"], fps, json.dumps(body.get("metadata")), webhook_url, reserve, created,
                 server_id))
            return self._written_job(db, job_id)

    def get_job(self, job_id: str, user_id: str | None = None) -> StoredJob | None:
        with self._lock:
            job = self._job(self._db, job_id)
        return job if job and (user_id is None or job.user_id == user_id) else None

    def _job(self, db, job_id: str) -> StoredJob | None:
        row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return StoredJob.from_row(row) if row else None

    def _written_job(self, db, job_id: str) -> StoredJob:
        """A job this transaction has just inserted or updated (so it exists)."""
        job = self._job(db, job_id)
        assert job is not None, job_id
        return job

    def mark_running(self, job_id: str) -> StoredJob | None:
        with self._transaction() as db:
            db.execute("UPDATE jobs SET status = 'running', started_ms = ? WHERE id = ? AND status = 'queued'",
                       (now_ms(), job_id))
            return self._job(db, job_id)

    def finish(self, job_id: str, *, error: str | None, cost: int, duration_ms: int,
               uncovered_error: str, charge_failure: bool = False) -> StoredJob | None:
        """The terminal transition: refund the reserve, then charge `cost` if the job completed.

        When the balance cannot cover `cost` the job fails with `uncovered_error` and costs nothing.
        A failed job with `charge_failure` (it held its worker long: see `_pricing`) pays `cost`, or
        what the balance has left. The error is stored capped (see `cap_error`).
        """
        done = now_ms()
        with self._transaction() as db:
            job = self._job(db, job_id)
            if job is None or job.status in ("completed", "failed"):
                return job
            self._refund_reserve(db, job.user_id, job_id, done)
            charged = 0
            if error is None:
                if self._spend(db, job.user_id, job_id, "charge", cost, done):
                    charged = cost
                else:
                    error = uncovered_error.format(cost=cost)
            elif charge_failure:
                paid, free = self._balance(db, job.user_id, done)
                charged = min(cost, paid + free)
                if charged:
                    self._spend(db, job.user_id, job_id, "charge", charged, done)
            error = cap_error(error, redact) if error else error  # stored as shown: a key in a scene's error never lands
            db.execute("UPDATE jobs SET status = ?, error = ?, credits_cost = ?, duration_ms = ?, completed_ms = ?"
                       " WHERE id = ?", ("failed" if error else "completed", error, charged, duration_ms, done, job_id))
            return self._written_job(db, job_id)

    def orphaned_job_ids(self, live_servers: set[str]) -> list[str]:
        """Queued or running jobs whose server is not one of `live_servers` (it stopped or crashed)."""
        with self._lock:
            rows = self._db.execute("SELECT id, server_id FROM jobs WHERE status IN ('queued', 'running') ORDER BY seq")
            return [row["id"] for row in rows.fetchall() if row["server_id"] not in live_servers]

    def job_count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]


def _key(row: sqlite3.Row) -> KeyRecord:
    return KeyRecord(row["id"], row["user_id"], row["prefix"], row["webhook_secret"], row["default_webhook_url"])


class _Transaction:
    """`with store._transaction() as db:` = the lock + BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error)."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self._db, self._lock = db, lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._db

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._lock.release()

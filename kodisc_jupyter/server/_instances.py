"""Several servers may share one data dir: two notebook kernels each start an embedded server there.

Each running server holds an exclusive `flock` on `<data_dir>/servers/<id>.lock` and tags the
jobs it creates with that id. A starting server fails only the unfinished jobs of servers whose
lock is free (they stopped or crashed) and leaves its live siblings' jobs alone.
"""
from __future__ import annotations

import fcntl
import os
import secrets
import time
from pathlib import Path

_STALE_AFTER = 60.0  # seconds before a free lock file may be removed (never race a server being born)


class InstanceLock:
    """This server's claim to be alive, held until `release()` or the process ends."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.id = secrets.token_hex(6)
        self.path = folder / f"{self.id}.lock"
        self._fd: int | None = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def release(self) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None


def live_instances(folder: Path) -> set[str]:
    """Ids of the servers whose lock is held right now (this one included)."""
    alive = set()
    for lock in folder.glob("*.lock"):
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            alive.add(lock.stem)
            continue
        finally:
            os.close(fd)
        try:
            if time.time() - lock.stat().st_mtime > _STALE_AFTER:
                lock.unlink(missing_ok=True)
        except FileNotFoundError:
            pass
    return alive

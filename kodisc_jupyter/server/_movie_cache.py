"""Manim's partial-movie cache kept between renders: per user and per (class, quality, aspect, fps), LRU-capped.

Manim names each animation's partial movie by a hash of the animation, the mobjects and the
camera, and reuses a file only when that hash matches, so re-rendering an edited scene renders
only the animations that changed. An entry is moved into the job's folder for its render (the
sandbox sees nothing else) and moved back after it; two renders of the same entry at once simply
do not share it. Entries are never shared between users. When the whole cache grows past its
cap, the least recently used entries go.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
from pathlib import Path

from ._store import StoredJob

DEFAULT_CACHE_SIZE = 1024**3


class MovieCache:
    def __init__(self, root: Path, *, max_bytes: int = DEFAULT_CACHE_SIZE) -> None:
        self.root, self.max_bytes = root, max_bytes
        self._lock = threading.Lock()

    def entry(self, job: StoredJob) -> Path:
        user = hashlib.sha256(job.user_id.encode()).hexdigest()[:16]
        key = f"{job.class_name}\0{job.quality}\0{job.aspect_ratio}\0{job.fps}"
        return self.root / user / hashlib.sha256(key.encode()).hexdigest()[:16]

    def check_out(self, job: StoredJob, into: Path) -> None:
        """Move the job's entry to `into` (an empty one when there is none or it is in use)."""
        with self._lock, contextlib.suppress(FileNotFoundError):
            os.replace(self.entry(job), into)
        into.mkdir(exist_ok=True)

    def check_in(self, job: StoredJob, folder: Path) -> None:
        """Keep `folder` (only its regular files) as the job's entry, newest first, then trim to the cap."""
        if folder.is_symlink() or not folder.is_dir():
            return
        for path in folder.iterdir():  # the scene could write here: keep nothing but plain files
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            elif not path.is_file() or path.is_symlink():
                path.unlink()
        target = self.entry(job)
        with self._lock:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.rmtree(target, ignore_errors=True)  # a concurrent render's older copy
            os.replace(folder, target)
            os.utime(target)
            self._trim()

    def _trim(self) -> None:
        entries = [(entry.stat().st_mtime, entry, sum(f.stat().st_size for f in entry.iterdir()))
                   for user in self.root.iterdir() for entry in user.iterdir()]
        total = sum(size for _, _, size in entries)
        for _, entry, size in sorted(entries, key=lambda item: item[0]):
            if total <= self.max_bytes:
                break
            shutil.rmtree(entry, ignore_errors=True)
            total -= size

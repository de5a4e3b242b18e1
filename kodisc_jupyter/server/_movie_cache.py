"""Manim's partial-movie cache kept between renders: per user and per (class, quality, aspect, fps), capped.

Manim names each animation's partial movie by a hash of the animation, the mobjects and the
camera, and reuses a file only when that hash matches, so re-rendering an edited scene renders
only the animations that changed. An entry is moved into the job's folder for its render (the
sandbox sees nothing else) and moved back after it; two renders of the same entry at once simply
do not share it. Entries are never shared between users.

The scene can write to that folder, so a check-in takes only what Manim writes there: regular
files named like its partial movies, not links, at most MAX_ENTRY_FILES of them (an entry with
more is not kept). Sizes are what files take on disk (`st_blocks`: a sparse file's size is no
cost). When the cache passes its byte or file cap, the user taking the most bytes loses their
least recently used entry first, so one user's renders cannot evict everyone else's.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import threading
from pathlib import Path

from ._leftovers import disk_bytes, remove_tree
from ._store import StoredJob

DEFAULT_CACHE_SIZE = 1024**3
#: Partial movies one entry keeps (one per animation), and all entries together.
MAX_ENTRY_FILES = 2_000
DEFAULT_CACHE_FILES = 50_000
#: Manim's partial-movie names: a hash (64 hex digits in 0.19+, numbers joined by `_` before), a movie suffix.
PARTIAL_MOVIE = re.compile(r"(?:[0-9a-f]{16,128}|[0-9]+(?:_[0-9]+)+)\.(?:mp4|mov|webm)")


class MovieCache:
    def __init__(self, root: Path, *, max_bytes: int = DEFAULT_CACHE_SIZE, max_files: int = DEFAULT_CACHE_FILES) -> None:
        self.root, self.max_bytes, self.max_files = root, max_bytes, max_files
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
        """Keep the partial movies in `folder` as the job's entry (newest first), then trim to the caps.

        What is not taken stays in `folder`, removed with the job's folder."""
        movies = _partial_movies(folder)
        if not movies:
            return
        target = self.entry(job)
        fresh = target.with_name(target.name + ".new")
        with self._lock:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            remove_tree(fresh)
            fresh.mkdir(mode=0o700)
            for name in movies:
                os.rename(folder / name, fresh / name)  # the same file system: the job's folder is beside
            remove_tree(target)  # a concurrent render's older copy
            os.replace(fresh, target)
            self._trim()

    def _trim(self) -> None:
        """Drop least recently used entries of the user with the most bytes until both caps hold."""
        entries: dict[Path, list[tuple[float, Path, int, int]]] = {}
        for user in _folders(self.root):
            for entry in _folders(user):
                sizes = [disk_bytes(item.stat(follow_symlinks=False)) for item in os.scandir(entry)]
                entries.setdefault(user, []).append((entry.stat().st_mtime, entry, sum(sizes), len(sizes)))
        total = sum(size for per_user in entries.values() for _, _, size, _ in per_user)
        files = sum(count for per_user in entries.values() for _, _, _, count in per_user)
        while (total > self.max_bytes or files > self.max_files) and entries:
            heaviest = max(entries, key=lambda user: sum(size for _, _, size, _ in entries[user]))
            per_user = sorted(entries[heaviest], key=lambda item: item[0])
            _, entry, size, count = per_user.pop(0)
            remove_tree(entry)
            total, files = total - size, files - count
            if per_user:
                entries[heaviest] = per_user
            else:
                del entries[heaviest]


def _partial_movies(folder: Path) -> list[str]:
    """Names of the regular, unlinked files in `folder` named like Manim's partial movies; [] if it holds
    more than MAX_ENTRY_FILES entries (or is not a plain folder)."""
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return []
        names = []
        with os.scandir(folder) as items:
            for count, item in enumerate(items):
                if count >= MAX_ENTRY_FILES:
                    return []
                if PARTIAL_MOVIE.fullmatch(item.name) and item.is_file(follow_symlinks=False) \
                        and item.stat(follow_symlinks=False).st_nlink == 1:
                    names.append(item.name)
        return names
    except OSError:
        return []


def _folders(path: Path) -> list[Path]:
    try:
        return [Path(item.path) for item in os.scandir(path) if item.is_dir(follow_symlinks=False)]
    except OSError:
        return []

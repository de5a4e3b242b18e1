"""What a scene leaves in its folder, handled as hostile: read warily, removed whatever it is.

A render's folder is written by scene code. Its result.json may be a FIFO (a blocking read
hangs whoever reads it), a link to a host file or /dev/zero, or gigabytes; its tree may be
thousands of levels deep (past recursion limits and PATH_MAX) with folders it made unreadable.
So files are opened without following links, non-blocking, and only read when regular, up to
a cap; and trees are removed by something that cannot fail on shape, depth or modes.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

from .._logging import get_logger

logger = get_logger("kodisc_jupyter.server")

#: The most of a job's `error` that is stored and shown; the rest is cut (see `cap_error`).
MAX_ERROR_CHARS = 4000
CUT_MARK = " … cut ({count} more characters)"
#: Characters past the cut that are cleaned with the kept part (longer than any key).
CUT_MARGIN = 200


def read_capped(path: Path, limit: int) -> bytes | None:
    """Up to `limit` bytes of `path` if it is a regular file (no link followed, never blocking), else None.

    More than `limit` bytes is None too: a scene's result that big is not ours."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        data = os.read(fd, limit + 1)
        return data if len(data) <= limit else None
    except OSError:
        return None
    finally:
        os.close(fd)


def cap_error(error: str, clean: Callable[[str], str] = str, *, length: int | None = None) -> str:
    """`error` passed through `clean` (redaction) and cut to MAX_ERROR_CHARS, with a mark saying how much went.

    Only the kept part (and a margin, so a key across the cut is still recognised) is cleaned:
    an error of hundreds of megabytes costs what a short one does. `length`: the whole error's
    length when `error` is only its start (enough of it: MAX_ERROR_CHARS + CUT_MARGIN)."""
    length = len(error) if length is None else length
    if length <= MAX_ERROR_CHARS and len(cleaned := clean(error)) <= MAX_ERROR_CHARS:
        return cleaned
    keep = MAX_ERROR_CHARS - len(CUT_MARK.format(count=length))  # room for the longest mark
    return clean(error[:keep + CUT_MARGIN])[:keep] + CUT_MARK.format(count=length - keep)


def remove_tree(path: Path) -> bool:
    """Remove `path` whatever it holds; never raises. True when it is gone.

    The common case is shutil.rmtree. A tree it cannot remove (too deep for its recursion, names
    past PATH_MAX, folders made unreadable) goes to coreutils, whose `chmod -R` and `rm -rf` walk
    by descriptor at any depth and never follow links or leave this file system."""
    try:
        if not os.path.lexists(path):
            return True
        if os.path.islink(path) or not os.path.isdir(path):
            os.unlink(path)
            return True
        shutil.rmtree(path)
        return True
    except (OSError, RecursionError):
        pass
    except Exception:  # noqa: BLE001 - whatever it was, the fallback below still runs
        logger.debug("rmtree failed on %s", path, exc_info=True)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(["chmod", "-R", "--", "u+rwx", str(path)], capture_output=True, timeout=600, check=False)
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(path)], capture_output=True, timeout=600,
                       check=False)
    gone = not os.path.lexists(path)
    if not gone:
        logger.warning("could not remove %s; remove it by hand", path)
    return gone


def folder_usage(folder: Path) -> tuple[int, int]:
    """(bytes on disk, files and folders) under `folder`, by coreutils' `du` (any depth, no link followed,
    sparse files at what they take); (0, 0) when it cannot be measured."""
    counts = []
    for unit in ("--block-size=1", "--inodes"):
        try:
            done = subprocess.run(["du", "-s", "-x", unit, "--", str(folder)], capture_output=True, text=True,
                                  timeout=60, check=False)
            counts.append(int(done.stdout.split()[0]))
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            counts.append(0)
    return counts[0], counts[1]


def disk_bytes(info: os.stat_result) -> int:
    """Bytes a file really takes on disk (a sparse file's size says nothing)."""
    return info.st_blocks * 512

"""Files a render leaves behind: their names, their types, and writing them whole or not at all."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

#: A finished job's files, by the field of the contract's `result` that names them. The local
#: server writes and serves these names; downloads are saved under the same names.
ASSET_FILES = {"video": "video.mp4", "thumbnail": "thumb.jpg", "captions": "captions.vtt"}
MEDIA_TYPES = {"video.mp4": "video/mp4", "thumb.jpg": "image/jpeg", "captions.vtt": "text/vtt; charset=utf-8"}


def write_atomic(target: Path, data: bytes | str | BinaryIO, *, mode: int = 0o644) -> Path:
    """Write `target` whole or not at all (a temp file beside it, then a rename), with `mode`.

    Readers and a crash never see half a file; `mode` is set on the open file, so neither the
    umask nor a wider pre-existing file can widen it (credentials use 0o600).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as file:
            if isinstance(data, str):
                file.write(data.encode("utf-8"))
            elif isinstance(data, bytes):
                file.write(data)
            else:
                shutil.copyfileobj(data, file)
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return target

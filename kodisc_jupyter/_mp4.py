"""What tracks an MP4 holds, read from its box tree (ISO/IEC 14496-12) without a media library.

The player only needs to know whether a video carries AAC sound (VS Code plays none), and a
kernel in the cloud has no PyAV: walking `moov/trak/mdia/minf/stbl/stsd` for the sample entry
types ("avc1", "mp4a", ...) takes a few reads wherever the `moov` box sits.
"""
from __future__ import annotations

import struct
from pathlib import Path

__all__ = ["sample_entry_types", "has_aac_track"]

_CONTAINERS = {b"trak", b"mdia", b"minf", b"stbl"}
_MAX_MOOV = 64 * 2**20  # a moov this large is not a render of ours: report no tracks rather than read it


def sample_entry_types(path: Path) -> set[str]:
    """The four-letter sample entry types of every track ({"avc1", "mp4a"} for H.264 with AAC);
    an empty set for a file that is not an MP4 or is cut short."""
    try:
        with path.open("rb") as file:
            while header := file.read(8):
                if len(header) < 8:
                    return set()
                size, kind = struct.unpack(">I4s", header)
                offset = 8
                if size == 1:
                    size, offset = struct.unpack(">Q", file.read(8))[0], 16
                if kind == b"moov":
                    if size == 0 or size - offset > _MAX_MOOV:
                        return set()
                    return _walk(file.read(size - offset))
                if size == 0 or size < offset:
                    return set()
                file.seek(size - offset, 1)
    except OSError:
        return set()
    return set()


def has_aac_track(path: Path) -> bool:
    return "mp4a" in sample_entry_types(path)


def _walk(data: bytes) -> set[str]:
    found: set[str] = set()
    position = 0
    while position + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, position)
        if size < 8 or position + size > len(data):
            break
        body = data[position + 8:position + size]
        if kind in _CONTAINERS:
            found |= _walk(body)
        elif kind == b"stsd" and len(body) >= 16:  # version/flags, entry count, then the entries
            found.add(body[12:16].decode("latin-1"))
        position += size
    return found

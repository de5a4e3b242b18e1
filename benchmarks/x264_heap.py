"""Why renders keep glibc's default allocator: x264's MB-tree reads memory it never initialised.

The same ten frames, encoded as Manim encodes a partial movie (PyAV's libx264, crf 23, yuv420p; one
thread so that scheduling plays no part), each in a fresh process whose glibc fills every block it
hands out with one byte (`GLIBC_TUNABLES=glibc.malloc.perturb=N` fills with N ^ 0xff). With MB-tree on
(x264's default, and Manim's) the movie changes with the byte, and the default heap gives the movie of
zero-filled memory; with `mbtree=0` it never changes. Under the default allocator x264's large
buffers are fresh pages, which the kernel zeroes, so a render is repeatable; an allocator that
hands x264 reused heap memory (a fixed `mmap_threshold`, as tried for P8) changes the video, and a
split render could then differ from the bare CLI. Valgrind (memcheck) puts the use of the
uninitialised value in MB-tree's log2 of the propagated cost (x264 core 165, as PyAV 18 bundles it).

`python benchmarks/x264_heap.py` (a few seconds).
"""
from __future__ import annotations

import os
import subprocess
import sys

from benchlib import print_table

ENCODE = """
import hashlib, io, sys
from fractions import Fraction
import av, numpy as np
height, width = 480, 848
y, x = np.mgrid[0:height, 0:width]
out = io.BytesIO()
with av.open(out, mode="w", format="mp4") as container:
    stream = container.add_stream("libx264", rate=Fraction(15),
                                  options={"crf": "23", "threads": "1", "x264-params": f"mbtree={sys.argv[1]}"})
    stream.pix_fmt, stream.width, stream.height = "yuv420p", width, height
    for i in range(10):  # a gradient that drifts and a disc that moves: motion for MB-tree to follow
        pixels = np.zeros((height, width, 4), np.uint8)
        pixels[..., 0], pixels[..., 1] = (x + 7 * i) % 256, (2 * y + 3 * i) % 256
        pixels[(x - 300 - 20 * i) ** 2 + (y - 200) ** 2 < 3000] = (255, 200, 0, 255)
        frame = av.VideoFrame.from_ndarray(pixels, format="rgba")
        frame.pts = i
        container.mux(stream.encode(frame))
    container.mux(stream.encode())
print(hashlib.sha256(out.getvalue()).hexdigest()[:16])
"""
FILLS = (None, 0x00, 0xFE, 0x55)  # None: glibc's default heap


def movie_hash(mbtree: int, fill: int | None) -> str:
    env = {**os.environ, "GLIBC_TUNABLES": "" if fill is None else f"glibc.malloc.perturb={fill ^ 0xFF}"}
    done = subprocess.run([sys.executable, "-c", ENCODE, str(mbtree)], env=env, capture_output=True, text=True,
                          check=True)
    return done.stdout.strip()


def main() -> None:
    rows = []
    for mbtree in (1, 0):
        hashes = [movie_hash(mbtree, fill) for fill in FILLS]
        rows.append([f"mbtree={mbtree}" + (" (default)" if mbtree else ""), *hashes,
                     "yes" if len(set(hashes)) > 1 else "no"])
    print_table("x264: the same frames, every heap block filled with one byte (sha256 of the movie)",
                ["x264", "default heap", *(f"filled with 0x{fill:02x}" for fill in FILLS[1:]), "movie changes"], rows)


if __name__ == "__main__":
    main()

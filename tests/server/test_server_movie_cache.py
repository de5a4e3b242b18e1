"""The partial-movie cache's bookkeeping: trimming to its caps (the heaviest user first), by what files take on
disk, and nothing but Manim's partial movies kept."""
from __future__ import annotations

import os
import time

from kodisc_jupyter.server._movie_cache import MAX_ENTRY_FILES, MovieCache
from kodisc_jupyter.server._store import StoredJob

BLOCK = 4096


def _job(user: str, class_name: str) -> StoredJob:
    return StoredJob(job_id="c" + "0" * 24, user_id=user, key_id="k", status="running", code="", class_name=class_name,
                     quality="low", aspect_ratio="16:9", fps=15, metadata=None, webhook_url=None, reserved=1,
                     credits_cost=0, duration_ms=None, error=None, created_ms=0, started_ms=None, completed_ms=None)


def movie(n: int) -> str:
    """A name like Manim's partial movies (a 64-digit hash)."""
    return f"{n:064x}.mp4"


def _render(cache: MovieCache, job: StoredJob, folder, files: dict[str, int]) -> None:
    cache.check_out(job, folder)
    for name, size in files.items():
        (folder / name).write_bytes(b"x" * size)
    cache.check_in(job, folder)


def test_the_least_recently_used_entries_go_past_the_cap(tmp_path):
    cache = MovieCache(tmp_path / "cache", max_bytes=int(2.5 * BLOCK))
    old, mid, new = _job("u1", "Old"), _job("u1", "Mid"), _job("u2", "New")
    for n, job in enumerate((old, mid, new)):
        _render(cache, job, tmp_path / "work", {movie(n): BLOCK})
        time.sleep(0.02)  # distinct modification times
    assert not cache.entry(old).exists() and cache.entry(mid).exists() and cache.entry(new).exists()
    cache.check_out(mid, tmp_path / "work")  # the next render of Mid finds its partial movie
    assert (tmp_path / "work" / movie(1)).stat().st_size == BLOCK


def test_only_manims_partial_movies_are_kept(tmp_path):
    cache = MovieCache(tmp_path / "cache")
    job = _job("u1", "Linky")
    folder = tmp_path / "work"
    cache.check_out(job, folder)
    (folder / movie(1)).write_bytes(b"movie")
    (folder / "notes.mp4").write_bytes(b"not a partial movie name")
    os.symlink("/etc/passwd", folder / movie(2))
    os.link(folder / movie(1), tmp_path / "outside")  # a second name: not the render's own file
    (folder / movie(3)).write_bytes(b"movie")
    os.mkfifo(folder / movie(4))
    (folder / movie(5)).mkdir()
    cache.check_in(job, folder)
    assert sorted(path.name for path in cache.entry(job).iterdir()) == [movie(3)]


def test_a_sparse_file_counts_what_it_takes_and_a_heavy_user_evicts_their_own_entries_first(tmp_path):
    cache = MovieCache(tmp_path / "cache", max_bytes=3 * BLOCK)
    quiet, heavy = _job("quiet", "Mine"), _job("heavy", "Big")
    _render(cache, quiet, tmp_path / "work", {movie(1): BLOCK})
    cache.check_out(heavy, tmp_path / "work")
    with open(tmp_path / "work" / movie(2), "wb") as sparse:
        sparse.truncate(2 * 1024**3)  # 2 GiB long, nothing on disk
    cache.check_in(heavy, tmp_path / "work")
    assert cache.entry(quiet).exists() and cache.entry(heavy).exists()  # 0 bytes taken: nothing to evict
    time.sleep(0.02)
    _render(cache, _job("heavy", "Bigger"), tmp_path / "work", {movie(3): 3 * BLOCK})
    assert cache.entry(quiet).exists()  # the user over their share lost their own entries, not others'
    assert not cache.entry(heavy).exists()


def test_an_entry_with_too_many_files_is_not_kept_and_the_file_cap_holds(tmp_path):
    cache = MovieCache(tmp_path / "cache", max_files=3)
    job = _job("u1", "Many")
    folder = tmp_path / "work"
    cache.check_out(job, folder)
    for n in range(MAX_ENTRY_FILES + 1):
        (folder / movie(n)).touch()
    cache.check_in(job, folder)
    assert not cache.entry(job).exists()
    for n, name in enumerate(("A", "B")):
        _render(cache, _job("u1", name), tmp_path / f"w{n}", {movie(1): 1, movie(2): 1})
        time.sleep(0.02)
    assert not cache.entry(_job("u1", "A")).exists() and cache.entry(_job("u1", "B")).exists()

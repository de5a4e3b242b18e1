"""The partial-movie cache's bookkeeping: LRU trimming to its cap, and nothing but plain files kept."""
from __future__ import annotations

import os
import time

from kodisc_jupyter.server._movie_cache import MovieCache
from kodisc_jupyter.server._store import StoredJob


def _job(user: str, class_name: str) -> StoredJob:
    return StoredJob(job_id="c" + "0" * 24, user_id=user, key_id="k", status="running", code="", class_name=class_name,
                     quality="low", aspect_ratio="16:9", fps=15, metadata=None, webhook_url=None, reserved=1,
                     credits_cost=0, duration_ms=None, error=None, created_ms=0, started_ms=None, completed_ms=None)


def _render(cache: MovieCache, job: StoredJob, folder, files: dict[str, int]) -> None:
    cache.check_out(job, folder)
    for name, size in files.items():
        (folder / name).write_bytes(b"x" * size)
    cache.check_in(job, folder)


def test_the_least_recently_used_entries_go_past_the_cap(tmp_path):
    cache = MovieCache(tmp_path / "cache", max_bytes=250)
    old, mid, new = _job("u1", "Old"), _job("u1", "Mid"), _job("u2", "New")
    for job in (old, mid, new):
        _render(cache, job, tmp_path / "work", {f"{job.class_name}.mp4": 100})
        time.sleep(0.02)  # distinct modification times
    assert not cache.entry(old).exists() and cache.entry(mid).exists() and cache.entry(new).exists()
    cache.check_out(mid, tmp_path / "work")  # the next render of Mid finds its partial movie
    assert (tmp_path / "work" / "Mid.mp4").stat().st_size == 100


def test_links_and_folders_a_scene_left_are_not_kept(tmp_path):
    cache = MovieCache(tmp_path / "cache")
    job = _job("u1", "Linky")
    folder = tmp_path / "work"
    cache.check_out(job, folder)
    (folder / "good.mp4").write_bytes(b"movie")
    os.symlink("/etc/passwd", folder / "bad.mp4")
    (folder / "nested").mkdir()
    cache.check_in(job, folder)
    assert sorted(path.name for path in cache.entry(job).iterdir()) == ["good.mp4"]

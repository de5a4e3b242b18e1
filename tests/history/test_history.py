"""The job history on a real SQLite file: rows, ordering, cache lookups, schema, key hygiene."""
from __future__ import annotations

import dataclasses
import sqlite3
import warnings
from datetime import datetime, timedelta, timezone

import pytest

from kodisc_jupyter.client import Job, RenderResult
from kodisc_jupyter.rendering.history import SCHEMA_VERSION, History, HistoryUnavailableWarning, JobRecord, cache_key

KEY = "kdsc_live_" + "3f9a" + "0123456789abcdef" * 2 + "deadbeefcafebabe"
T0 = datetime(2026, 4, 28, 17, 14, 2, 118000, tzinfo=timezone.utc)


def job(job_id: str, status: str = "queued", *, created_at: datetime = T0, **fields) -> Job:
    return Job(job_id=job_id, status=status, created_at=created_at, **fields)


def completed(job_id: str, *, created_at: datetime = T0, duration_ms: int = 1500, credits: float = 2.0) -> Job:
    return job(
        job_id,
        "completed",
        created_at=created_at,
        duration_ms=duration_ms,
        credits_cost=credits,
        completed_at=created_at + timedelta(milliseconds=duration_ms),
        result=RenderResult(video=f"https://cdn.test/{job_id}.mp4", thumbnail=f"https://cdn.test/{job_id}.jpg",
                            captions=None),
    )


def submit(history: History, j: Job, *, quality: str = "low", backend: str = "local", key: str = "c1",
           code: str = "class A(Scene): pass") -> None:
    history.record_submitted(
        j, backend=backend, base_url="http://127.0.0.1:9999/api/v2/", key_prefix=KEY[:14], class_name="A",
        quality=quality, aspect_ratio="16:9", fps=None, code=code, metadata={"lesson": 3}, cache_key=key,
    )


@pytest.fixture
def history(tmp_path):
    with History(tmp_path / "history.sqlite3") as h:
        yield h


def test_default_path_is_under_kodisc_home(isolated_kodisc_env):
    assert History().path == isolated_kodisc_env / "history.sqlite3"


def test_a_job_goes_from_submitted_to_completed_with_assets(history, tmp_path):
    submit(history, job("job1"))
    queued = history.get("job1")
    assert isinstance(queued, JobRecord)
    assert (queued.status, queued.backend, queued.base_url) == ("queued", "local", "http://127.0.0.1:9999/api/v2")
    assert queued.metadata == {"lesson": 3} and queued.created_at == T0 and queued.completed_at is None

    assert history.record_update(completed("job1"))
    assert history.set_assets("job1", video=tmp_path / "v.mp4", thumbnail=str(tmp_path / "t.jpg"))
    done = history.get("job1")
    assert done.status == "completed" and done.credits_cost == 2.0 and done.duration_ms == 1500
    assert done.video_url == "https://cdn.test/job1.mp4" and done.captions_url is None
    assert done.video_path == tmp_path / "v.mp4" and done.thumbnail_path == tmp_path / "t.jpg"
    assert done.captions_path is None
    assert done.completed_at == T0 + timedelta(milliseconds=1500)

    as_job = done.to_job()
    assert isinstance(as_job, Job)
    assert as_job == dataclasses.replace(completed("job1"), metadata={"lesson": 3})


def test_unknown_job_is_none_and_updates_report_no_row(history):
    assert history.get("nope") is None
    assert history.record_update(completed("nope")) is False
    assert history.set_assets("nope", video="/tmp/x.mp4") is False


def test_a_late_poll_never_moves_a_terminal_job_back(history):
    submit(history, job("job1"))
    history.record_update(completed("job1"))
    assert history.record_update(job("job1", "running")) is False
    assert history.get("job1").status == "completed"


def test_list_is_newest_first_with_paging_and_status_filter(history):
    for i in range(5):
        submit(history, job(f"j{i}", created_at=T0 + timedelta(minutes=i)))
    history.record_update(completed("j1", created_at=T0 + timedelta(minutes=1)))
    history.record_update(job("j3", "failed", created_at=T0 + timedelta(minutes=3), error="boom"))

    assert [r.job_id for r in history.list()] == ["j4", "j3", "j2", "j1", "j0"]
    assert [r.job_id for r in history.list(limit=2, offset=1)] == ["j3", "j2"]
    assert [r.job_id for r in history.list(status="failed")] == ["j3"]
    assert (history.count(), history.count("queued"), history.count("completed")) == (5, 3, 1)
    assert history.get("j3").error == "boom"


def test_find_cached_returns_the_newest_completed_job_for_the_key(history):
    submit(history, job("old", created_at=T0), key="k")
    history.record_update(completed("old", created_at=T0))
    submit(history, job("new", created_at=T0 + timedelta(hours=1)), key="k")
    history.record_update(completed("new", created_at=T0 + timedelta(hours=1)))
    submit(history, job("failed-later", created_at=T0 + timedelta(hours=2)), key="k")
    history.record_update(job("failed-later", "failed", created_at=T0 + timedelta(hours=2), error="x"))
    submit(history, job("other", created_at=T0 + timedelta(hours=3)), key="other")

    assert history.find_cached("k").job_id == "new"
    assert history.find_cached("other") is None  # still queued
    assert history.find_cached("missing") is None


def test_credits_spent_counts_jobs_that_ended_since(history):
    for i, credits in enumerate([1.0, 2.5, 4.0]):
        created = T0 + timedelta(days=i)
        submit(history, job(f"j{i}", created_at=created))
        history.record_update(completed(f"j{i}", created_at=created, credits=credits))
    assert history.credits_spent(T0 - timedelta(days=1)) == 7.5
    assert history.credits_spent(T0 + timedelta(hours=12)) == 6.5
    assert history.credits_spent(T0 + timedelta(days=10)) == 0.0


def test_median_duration_is_per_quality_and_backend(history):
    for i, duration in enumerate([1000, 3000, 2000, 9000]):
        submit(history, job(f"l{i}"), quality="low" if i < 3 else "high")
        history.record_update(completed(f"l{i}", duration_ms=duration))
    submit(history, job("cloud"), backend="kodisc")
    history.record_update(completed("cloud", duration_ms=50))
    assert history.median_duration_ms(quality="low", backend="local") == 2000
    assert history.median_duration_ms(quality="high", backend="local") == 9000
    assert history.median_duration_ms(quality="low", backend="kodisc") == 50
    assert history.median_duration_ms(quality="medium", backend="local") is None


def test_fresh_file_is_wal_and_carries_the_schema_version(history):
    submit(history, job("j"))
    db = sqlite3.connect(history.path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_an_empty_version_0_file_is_migrated(tmp_path):
    path = tmp_path / "h.sqlite3"
    sqlite3.connect(path).close()  # an empty database: user_version 0, no tables
    with History(path) as h:
        submit(h, job("j"))
        assert h.count() == 1
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_file_from_a_newer_schema_turns_history_off_without_touching_it(tmp_path):
    path = tmp_path / "h.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE future (x)")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.warns(HistoryUnavailableWarning, match="newer"):
        h = History(path)
        submit(h, job("j"))
    assert h.enabled is False and h.count() == 0
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


def test_the_full_key_is_never_stored(history):
    history.record_submitted(
        job("j"), backend="kodisc", base_url=f"https://kodisc.com/api/v2?k={KEY}", key_prefix=KEY, class_name=KEY,
        quality="low", aspect_ratio="16:9", fps=15, code=f"API = {KEY!r}\nclass A(Scene): pass",
        metadata={"note": KEY}, cache_key="k",
    )
    history.record_update(job("j", "completed", result=RenderResult(video=f"https://cdn.test/{KEY}.mp4")))
    assert KEY not in history.get("j").video_url
    history.record_update(job("j", "failed", error=f"bad key {KEY}"))
    record = history.get("j")
    assert record.key_prefix == KEY[:14] and record.class_name == KEY[:14] + "…"
    assert KEY not in record.base_url
    assert KEY not in record.code and KEY[:14] in record.code
    assert KEY not in str(record.metadata) and KEY not in record.error
    history.close()
    secret = KEY[14:].encode()
    for file in history.path.parent.glob("history.sqlite3*"):
        assert secret not in file.read_bytes(), file.name


def test_cache_key_changes_with_every_input():
    base = dict(code="class A(Scene): pass", class_name="A", quality="low", aspect_ratio="16:9", fps=None,
                backend="local", base_url="http://127.0.0.1:8000/api/v2")
    changes = dict(code="class A(Scene): pass\n", class_name="B", quality="medium", aspect_ratio="9:16", fps=15,
                   backend="kodisc", base_url="http://127.0.0.1:8001/api/v2")
    key = cache_key(**base)
    assert key == cache_key(**base)
    assert key == cache_key(**{**base, "base_url": base["base_url"] + "/"})  # same server
    keys = {name: cache_key(**{**base, name: value}) for name, value in changes.items()}
    assert all(other != key for other in keys.values()), keys
    assert len(set(keys.values())) == len(changes)


def test_one_history_object_serves_several_threads(history):
    import threading

    def writer(n: int) -> None:
        for i in range(50):
            submit(history, job(f"t{n}-{i}"))
            history.record_update(completed(f"t{n}-{i}"))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert history.count() == 200 and history.count("completed") == 200


def test_close_then_use_again_reopens(history):
    submit(history, job("a"))
    history.close()
    submit(history, job("b"))
    assert history.count() == 2


def test_repr_names_the_file_and_state(history):
    assert str(history.path) in repr(history) and "(on)" in repr(history)


def test_unwarned_file_stays_quiet(history):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        submit(history, job("j"))
        history.list()
    assert history.enabled


def test_a_write_blocked_by_another_kernel_is_skipped_not_raised(tmp_path, caplog):
    path = tmp_path / "h.sqlite3"
    with History(path) as setup:
        submit(setup, job("before"))
    other_kernel = sqlite3.connect(path, isolation_level=None)
    other_kernel.execute("BEGIN EXCLUSIVE")  # holds the write lock
    history = History(path, busy_timeout=0.2)
    try:
        with caplog.at_level("WARNING", logger="kodisc_jupyter.rendering.history"):
            submit(history, job("blocked"))  # returns after ~0.2 s instead of raising or hanging
        assert "busy" in caplog.text and str(path) in caplog.text
    finally:
        other_kernel.execute("ROLLBACK")
        other_kernel.close()
    assert history.enabled  # a busy moment does not turn history off
    submit(history, job("after"))
    assert {r.job_id for r in history.list()} == {"before", "after"}
    history.close()

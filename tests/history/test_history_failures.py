"""A history file that cannot be used never stops anything: one warning, then a no-op."""
from __future__ import annotations

import warnings
from datetime import datetime, timezone

import pytest

from kodisc_jupyter.client import Job
from kodisc_jupyter.rendering.history import History, HistoryUnavailableWarning

NOW = datetime(2026, 4, 28, 17, 14, 2, tzinfo=timezone.utc)


def exercise(history: History) -> list:
    """Every public method once; returns what the readers gave back."""
    job = Job(job_id="j1", status="queued", created_at=NOW)
    history.record_submitted(job, backend="local", base_url="http://127.0.0.1:1", key_prefix=None,
                             class_name="A", quality="low", aspect_ratio="16:9", fps=None, code="x", cache_key="k")
    return [
        history.record_update(job),
        history.set_assets("j1", video="/tmp/v.mp4"),
        history.get("j1"),
        history.find_cached("k"),
        history.list(),
        history.count(),
        history.credits_spent(NOW),
        history.median_duration_ms(quality="low", backend="local"),
    ]


def test_garbage_file_warns_once_and_everything_is_a_no_op(tmp_path):
    path = tmp_path / "history.sqlite3"
    garbage = b"this is not a database \x00\xff" * 200
    path.write_bytes(garbage)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = History(path)
        results = exercise(history)
        results_again = exercise(history)
        exercise(History(path))  # a second object in the same session does not warn again
    ours = [w for w in caught if issubclass(w.category, HistoryUnavailableWarning)]
    assert len(ours) == 1, [str(w.message) for w in caught]
    message = str(ours[0].message)
    assert str(path) in message and "off for this session" in message
    assert results == results_again == [False, False, None, None, [], 0, 0.0, None]
    assert history.enabled is False
    assert path.read_bytes() == garbage  # the user's file is left alone


def test_a_path_that_cannot_be_created_turns_history_off(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a folder should be")
    with pytest.warns(HistoryUnavailableWarning, match="not-a-dir"):
        history = History(blocker / "history.sqlite3")
        assert exercise(history)[-3:] == [0, 0.0, None]
    assert history.enabled is False


def test_a_file_corrupted_while_in_use_turns_history_off(tmp_path):
    path = tmp_path / "history.sqlite3"
    history = History(path)
    exercise(history)
    assert history.count() == 1
    history.close()
    for file in tmp_path.glob("history.sqlite3*"):
        file.write_bytes(b"\x00garbage" * 1000)
    with pytest.warns(HistoryUnavailableWarning):
        assert history.count() == 0
    assert history.enabled is False

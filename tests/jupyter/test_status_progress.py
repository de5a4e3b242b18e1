"""A running local job's extra `progress` in the contract's Job and on the status line (with an ETA)."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from kodisc_jupyter.client import Job, RenderProgress
from kodisc_jupyter.jupyter.status import StatusBar
from kodisc_jupyter.rendering.backend import Backend
from kodisc_jupyter.rendering.pipeline import Progress

BODY = {"jobId": "c" + "a" * 24, "endpoint": "render", "status": "running", "creditsCost": 0, "durationMs": None,
        "result": None, "error": None, "metadata": None, "createdAt": "2026-01-01T00:00:00.000Z", "completedAt": None}


def test_job_progress_is_optional_and_never_breaks_parsing():
    assert Job.from_dict(BODY).progress is None and "progress" not in Job.from_dict(BODY).to_dict()
    job = Job.from_dict({**BODY, "progress": {"animations": 3, "seconds": 2.5}})
    assert job.progress == RenderProgress(animations=3, seconds=2.5)
    assert Job.from_dict(job.to_dict()) == job
    for junk in ("fast", {"animations": -1, "seconds": 1}, {"animations": 2.5, "seconds": 1},
                 {"animations": 2, "seconds": "1"}, {"animations": True, "seconds": 1}):
        assert Job.from_dict({**BODY, "progress": junk}).progress is None, junk


def _progress(job: Job, *, previous: float | None, started: float) -> Progress:
    backend = Backend(name="local", base_url="http://127.0.0.1:1/api/v2", key_prefix=None)
    return Progress(state=job.status, class_name="Intro", backend=backend, job=job, started=started,
                    expected_seconds=30.0, previous_seconds=previous)


def test_the_status_line_shows_animations_video_seconds_and_an_eta(capsys):
    bar = StatusBar("Intro", "local", widgets=False)
    started = time.monotonic() - 4.0
    running = Job(job_id="c" + "b" * 24, status="running", created_at=datetime.now(timezone.utc),
                  progress=RenderProgress(animations=3, seconds=2.5))
    bar(_progress(running, previous=10.0, started=started))
    line = capsys.readouterr().out.strip()
    assert "Intro: running" in line and "animation 3 · 2.5 s of video" in line
    eta = float(line.split("ETA ")[1].split(" s")[0])
    assert 5.0 < eta <= 6.0  # the last render of Intro took 10 s, 4 s have passed
    assert 0.35 < bar.fraction() < 0.45

    further = Job(job_id=running.job_id, status="running", created_at=running.created_at,
                  progress=RenderProgress(animations=4, seconds=3.0))
    bar(_progress(further, previous=None, started=started))  # new progress: a new line; no history: no ETA
    line = capsys.readouterr().out.strip()
    assert "animation 4 · 3 s of video" in line and "ETA" not in line and "~30.0 s expected" in line


def test_the_terminal_and_the_notebook_format_progress_alike():
    """One formatter: the `kodisc` command's line is the status bar's, after its spinner."""
    import io

    from kodisc_jupyter.cli.jobs import ProgressLine
    from kodisc_jupyter.rendering.views import format_progress

    job = Job(job_id="c" + "d" * 24, status="running", created_at=datetime.now(timezone.utc),
              progress=RenderProgress(animations=2, seconds=1.5))
    progress = _progress(job, previous=10.0, started=time.monotonic() - 4.0)
    stream = io.StringIO()
    ProgressLine(stream)(progress)  # not a terminal: one plain line per state
    line = stream.getvalue().strip()
    assert line.startswith("Intro: running · 4.") and "animation 2 · 1.5 s of video · ETA " in line
    assert 5.0 < float(line.split("ETA ")[1].split(" s")[0]) <= 6.0
    assert line.endswith(" · job cddddddd · local")
    bar = StatusBar("Intro", "local", widgets=False)
    bar.started, bar.state, bar.job_id, bar.render_progress = progress.started, "running", job.job_id, job.progress
    bar.previous_seconds, bar.expected_seconds = 10.0, 30.0
    assert bar.text().split(" · ")[:1] == ["Kodisc"] and bar.text().split(" · ")[1] == line.split(" · ")[0]
    assert format_progress(class_name="X", state="queued", elapsed=1.0, job_id=None, backend="Kodisc",
                           expected_seconds=30.0) == "X: queued · 1.0 s · ~30.0 s expected · job — · Kodisc"

"""The shared render flow, the backend choice and the result object, in-process against the simulated server."""
from __future__ import annotations

import asyncio
import base64
import os
import re
import sys
import types

import pytest
from nbrun import scene

from kodisc_jupyter.errors import AuthenticationError, RenderFailedError
from kodisc_jupyter.jupyter.result import Rendered, render
from kodisc_jupyter.rendering import pipeline
from kodisc_jupyter.rendering.backend import LOCAL_NOTICE, backend_for, resolve_backend, stop_local_server


@pytest.fixture
def to_sim(sim_server, monkeypatch):
    monkeypatch.setenv("KODISC_API_KEY", sim_server.api_key)
    monkeypatch.setenv("KODISC_BASE_URL", sim_server.base_url)
    return sim_server


def request(name: str, seconds: float = 0.2, **options) -> pipeline.RenderRequest:
    return pipeline.RenderRequest(code=scene(name), quality="low", metadata={"simulate": {"seconds": seconds}},
                                  **options)


def test_history_row_exists_before_the_first_poll_and_subscribers_see_every_state(to_sim):
    seen: list[tuple[str, bool]] = []

    def observe(progress: pipeline.Progress) -> None:
        if progress.job_id and progress.class_name == "Observed":
            seen.append((progress.state, pipeline.history().get(progress.job_id) is not None))

    unsubscribe = pipeline.subscribe(observe)
    try:
        outcome = pipeline.run(pipeline.RenderFlow(request("Observed", 0.5), resolve_backend()))
    finally:
        unsubscribe()
    assert seen[0] == ("queued", True), "the row is written as soon as the POST succeeds"
    assert seen[-1] == ("completed", True)
    assert [state for state, _ in seen] in (["queued", "running", "completed"], ["queued", "completed"])
    record = pipeline.history().get(outcome.job.job_id)
    assert record.status == "completed" and record.video_path == outcome.video and record.key_prefix == to_sim.api_key[:14]
    heard = len(seen)
    pipeline.run(pipeline.RenderFlow(request("Observed", 0.3, force=True), resolve_backend()))
    assert len(seen) == heard, "an unsubscribed callback hears nothing more"


def test_cache_hit_sends_no_post_and_unplayable_media_render_again(to_sim):
    first = pipeline.run(pipeline.RenderFlow(request("Cached"), resolve_backend()))
    count = to_sim.job_count()
    hit = pipeline.run(pipeline.RenderFlow(request("Cached"), resolve_backend()))
    assert to_sim.job_count() == count and hit.cached and hit.job.job_id == first.job.job_id
    forced = pipeline.run(pipeline.RenderFlow(request("Cached", force=True), resolve_backend()))
    assert to_sim.job_count() == count + 1 and not forced.cached
    forced.video.unlink()  # the newest completed render's media are gone: the cache must not offer it
    first.video.unlink()
    again = pipeline.run(pipeline.RenderFlow(request("Cached"), resolve_backend()))
    assert to_sim.job_count() == count + 2 and not again.cached and again.video.stat().st_size > 0


def test_a_changed_prelude_renders_every_scene_again(to_sim):
    """What teaching.ipynb's exercise tells students: the prelude is part of each render's cache key."""
    def run(prelude: str) -> pipeline.Outcome:
        return pipeline.run(pipeline.RenderFlow(request("Lesson", prelude=prelude), resolve_backend()))

    first = run("LEG_A, LEG_B = 3, 4\n")
    assert run("LEG_A, LEG_B = 3, 4\n").cached
    changed = run("LEG_A, LEG_B = 5, 12\n")
    assert not changed.cached and changed.job.job_id != first.job.job_id


def test_a_failed_job_raises_with_the_job_and_is_recorded(to_sim):
    flow = pipeline.RenderFlow(pipeline.RenderRequest(code=scene("Doomed"), quality="low",
                                                      metadata={"simulate": {"seconds": 0.1, "fail": "KeyError: x"}}),
                               resolve_backend())
    with pytest.raises(RenderFailedError) as caught:
        pipeline.run(flow)
    assert "KeyError: x" in caught.value.job.error
    assert pipeline.history().get(caught.value.job.job_id).status == "failed"


def test_the_async_runner_takes_the_same_steps(to_sim):
    outcome = asyncio.run(pipeline.run_async(pipeline.RenderFlow(request("Async"), resolve_backend())))
    assert outcome.video.stat().st_size > 0 and outcome.captions.read_text().startswith("WEBVTT")
    assert pipeline.history().get(outcome.job.job_id).video_path == outcome.video
    count = to_sim.job_count()
    assert asyncio.run(pipeline.run_async(pipeline.RenderFlow(request("Async"), resolve_backend()))).cached
    assert to_sim.job_count() == count


def test_render_returns_a_rendered_that_saves_and_embeds(to_sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = render(scene("Saved"), quality="low", metadata={"simulate": {"seconds": 0.1}})
    assert re.fullmatch(r"<Rendered Saved job=\w+ completed credits=[\d.]+ video='.*video\.mp4'>", repr(result))
    assert to_sim.api_key not in repr(result)
    target = result.save(tmp_path / "out" / "saved.mp4")
    assert target.read_bytes() == result.video.read_bytes()
    assert target.with_suffix(".vtt").read_text() == result.captions.read_text()

    linked = result._repr_html_()
    assert re.search(r'<video[^>]* src="kodisc_media/Saved-\w{8}\.mp4"', linked)
    assert (tmp_path / "kodisc_media").is_dir()
    embedded = result.html(embed=True)
    video = re.search(r'<video[^>]* src="data:video/mp4;base64,([^"]+)"', embedded)
    assert video and base64.b64decode(video.group(1)) == result.video.read_bytes()
    capped = result.bundle(embed=True, embed_max_mb=result.video.stat().st_size / 2**20 / 2)
    assert 'src="kodisc_media/Saved-' in capped["text/html"] and "embed cap" in capped["text/plain"]
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert 'src="data:video/mp4;base64,' in result._repr_html_()  # Colab embeds by default
    capped = result.bundle(embed_max_mb=result.video.stat().st_size / 2**20 / 2)  # Colab cannot play a linked file
    assert f'src="{result.job.result.video}"' in capped["text/html"] and "Kodisc's CDN" in capped["text/plain"]
    monkeypatch.delitem(sys.modules, "google.colab")
    # A saved notebook's text names the file its player plays, never the private copy under KODISC_HOME.
    home = os.environ["KODISC_HOME"]
    linked_text = result.bundle(embed=False)["text/plain"]
    assert re.search(r"\n  video: kodisc_media/Saved-\w{8}\.mp4$", linked_text) and home not in linked_text
    embedded_text = result.bundle(embed=True)["text/plain"]
    assert embedded_text.endswith("\n  video: embedded in this notebook") and home not in embedded_text


def test_backend_choice(to_sim, monkeypatch):
    backend = resolve_backend("auto")
    assert (backend.name, backend.base_url, backend.key_prefix) == ("kodisc", to_sim.base_url, to_sim.api_key[:14])
    assert to_sim.api_key not in repr(backend)
    monkeypatch.delenv("KODISC_API_KEY")
    with pytest.raises(AuthenticationError, match="KODISC_API_KEY"):
        resolve_backend("cloud")
    try:
        local = resolve_backend("auto")
        assert local.name == "local" and local.notice == LOCAL_NOTICE
        assert resolve_backend("local").base_url == local.base_url  # one embedded server per process
        # a job recorded by an earlier kernel finds today's embedded server, whatever its old port
        assert backend_for("local", "http://127.0.0.1:9/api/v2").base_url == local.base_url
        with local.client() as client:
            assert client.me().key_prefix == local.key_prefix
    finally:
        stop_local_server()


def test_rendered_summary_says_cached_and_costs_nothing(to_sim):
    pipeline.run(pipeline.RenderFlow(request("Summary"), resolve_backend()))
    rendered = Rendered(pipeline.run(pipeline.RenderFlow(request("Summary"), resolve_backend())))
    assert "cached" in rendered.summary() and "0 credits" in rendered.summary()


def test_no_credits_means_no_job_and_no_history_row(tmp_path, monkeypatch):
    from kodisc_jupyter.errors import InsufficientCreditsError
    from kodisc_jupyter.server import start_local_server

    with start_local_server(tmp_path / "broke", renderer="simulate", credits=0, free_credits=0) as broke:
        monkeypatch.setenv("KODISC_API_KEY", broke.api_key)
        monkeypatch.setenv("KODISC_BASE_URL", broke.base_url)
        with pytest.raises(InsufficientCreditsError, match="top up"):
            pipeline.run(pipeline.RenderFlow(request("Broke"), resolve_backend()))
        assert broke.job_count() == 0
    assert pipeline.history().count() == 0


@pytest.mark.render
def test_local_file_warning_tells_the_truth_about_the_local_server(manim_server, monkeypatch, tmp_path):
    """The pre-flight warning says a relative path is not found by a render, nor an absolute one in the sandbox."""
    monkeypatch.setenv("KODISC_API_KEY", manim_server.api_key)
    monkeypatch.setenv("KODISC_BASE_URL", manim_server.base_url)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dot.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                                      '<circle cx="5" cy="5" r="4" fill="red"/></svg>')

    def flow(path: str) -> pipeline.RenderFlow:
        code = (f"from manim import *\nclass Dot{len(path)}(Scene):\n    def construct(self):\n"
                f"        self.add(SVGMobject({path!r}))\n        self.wait(0.1)\n")
        flow = pipeline.RenderFlow(pipeline.RenderRequest(code=code, quality="low"), resolve_backend())
        flow.check()
        return flow

    relative = flow("dot.svg")
    assert "uses a file beside the notebook: Kodisc cannot read your files" in relative.warnings[0]
    with pytest.raises(RenderFailedError, match="dot.svg"):
        pipeline.run(relative)
    absolute = flow(str(tmp_path / "dot.svg"))
    assert "only `kodisc serve --no-sandbox` can" in absolute.warnings[0]
    if manim_server.sandbox_problem is None:  # the sandbox sees nothing of the disk outside its folder
        with pytest.raises(RenderFailedError, match="dot.svg"):
            pipeline.run(absolute)
    else:
        assert pipeline.run(absolute).video.stat().st_size > 0


def test_resume_follows_a_submitted_job_to_its_end_and_then_answers_from_the_history(to_sim):
    submitted = pipeline.RenderFlow(request("Later", 0.5), resolve_backend())
    assert pipeline.submit(submitted) is None
    job_id = submitted.job.job_id
    look = pipeline.resume_flow(job_id)
    assert pipeline.resume(look, wait_for_end=False) is None  # one look: still running
    assert look.job.status in ("queued", "running") and pipeline.history().get(job_id).status == look.job.status
    outcome = pipeline.resume(pipeline.resume_flow(job_id))
    assert outcome.job.status == "completed" and outcome.class_name == "Later" and outcome.video.stat().st_size > 0
    assert pipeline.history().get(job_id).video_path == outcome.video
    mtime = outcome.video.stat().st_mtime_ns
    again = pipeline.resume(pipeline.resume_flow(job_id))  # the saved media: nothing fetched again
    assert (again.video, again.quality, again.video.stat().st_mtime_ns) == (outcome.video, "low", mtime)


def test_resume_of_a_job_the_history_does_not_know(to_sim):
    from kodisc_jupyter.errors import NotFoundError, ValidationError

    with pytest.raises(ValidationError, match="not in the local history"):
        pipeline.resume_flow("clx_elsewhere")  # no backend to look on
    flow = pipeline.resume_flow("clx_elsewhere", resolve_backend)
    assert flow.request is None and flow.class_name == "job" and flow.backend.base_url == to_sim.base_url
    with pytest.raises(NotFoundError):
        pipeline.resume(flow)
    with pytest.raises(ValidationError, match="no request to send again"):
        pipeline.submit(flow)

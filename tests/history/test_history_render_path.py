"""A broken history file never stops a render: the real render path against the real local server."""
from __future__ import annotations

import warnings

import kodisc_jupyter
from kodisc_jupyter.rendering.history import HistoryUnavailableWarning

SCENE = "from manim import *\n\nclass Hello(Scene):\n    def construct(self):\n        self.add(Dot())\n"


def test_render_goes_on_without_history_and_without_cache(sim_server, monkeypatch, isolated_kodisc_env):
    monkeypatch.setenv("KODISC_API_KEY", sim_server.api_key)
    monkeypatch.setenv("KODISC_BASE_URL", sim_server.base_url)
    history_file = isolated_kodisc_env / "history.sqlite3"
    history_file.write_bytes(b"\x13\x37 not sqlite " * 64)
    jobs_before = sim_server.job_count()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = kodisc_jupyter.render(SCENE, quality="low", timeout=60)
        second = kodisc_jupyter.render(SCENE, quality="low", timeout=60)

    assert first.job.status == second.job.status == "completed"
    assert first.video.is_file() and second.video.is_file()
    # Without a history there is no cache: the identical request was rendered again.
    assert second.job.job_id != first.job.job_id and sim_server.job_count() == jobs_before + 2
    ours = [w for w in caught if issubclass(w.category, HistoryUnavailableWarning)]
    assert len(ours) == 1 and str(history_file) in str(ours[0].message)
    assert history_file.read_bytes().startswith(b"\x13\x37 not sqlite")

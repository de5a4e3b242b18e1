"""The panel against the real (simulated) local server, after real renders through the pipeline."""
from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import threading
import time

import pytest
from panel_helpers import HOSTILE_ERROR, run, scene, simulated, submit

from kodisc_jupyter import Panel
from kodisc_jupyter.jupyter.player import PLAYER_MIME
from kodisc_jupyter.rendering.backend import Backend
from kodisc_jupyter.rendering.pipeline import history
from kodisc_jupyter.rendering.views import format_credits


def widgets_with_class(widget, css_class):
    found = [widget] if css_class in getattr(widget, "_dom_classes", ()) else []
    for child in getattr(widget, "children", ()):
        found += widgets_with_class(child, css_class)
    return found


def visible_rows(panel):
    """(job id shown in the cells' title, row widget) for every row the panel shows."""
    rows = [r for r in widgets_with_class(panel.widget, "kodisc-job-row") if r.layout.display != "none"]
    return [(re.search(r'title="([^"]+)"', row.children[0].value).group(1), row) for row in rows]


def button(row, css_class):
    return next(child for child in row.children if css_class in child._dom_classes)


def numbers(text):
    match = re.search(r"([\d.]+) credits \(([\d.]+) paid, ([\d.]+) free\)", text)
    return tuple(float(g) for g in match.groups())


@pytest.fixture
def panel(made_jobs):
    panel = Panel(page_size=2)
    yield panel
    panel.close()


def test_balance_equals_me(panel, account):
    panel.refresh()  # the balance is asked of /me on the first display or a refresh, not on construction
    with account.client() as client:
        me = client.me()
    expected = (me.credits.total, me.credits.paid, me.credits.free)
    assert numbers(panel._snapshot_text()) == pytest.approx(expected, abs=0.005)
    balance = widgets_with_class(panel.widget, "kodisc-balance")[0].value
    assert numbers(balance) == pytest.approx(expected, abs=0.005)
    assert me.key_prefix in balance
    assert account.api_key not in panel._snapshot_html() + panel._snapshot_text() + balance


def test_rows_equal_the_jobs_made(made_jobs, account):
    panel = Panel(page_size=10)
    try:
        newest_first = [made_jobs["Gamma"], made_jobs["Beta"], made_jobs["Alpha"]]
        assert [job_id for job_id, _ in visible_rows(panel)] == newest_first
        html = panel._snapshot_html()
        with account.client() as client:
            for job_id, row in visible_rows(panel):
                job = client.get_job(job_id)
                cells = row.children[0].value
                assert f">{job.status}<" in cells
                assert f'data-job-id="{job_id}"' in html and f"kodisc-status-{job.status}" in html
                assert f">{format_credits(job.credits_cost)}<" in cells
            assert client.get_job(made_jobs["Gamma"]).status == "failed"
        assert re.search(r">medium<", visible_rows(panel)[1][1].children[0].value)
        assert "jobs 1–3 of 3" in panel._snapshot_text()
    finally:
        panel.close()


def test_css_classes_for_browser_tests(panel):
    for css_class in ("kodisc-panel", "kodisc-balance", "kodisc-jobs-table", "kodisc-refresh", "kodisc-filter"):
        assert widgets_with_class(panel.widget, css_class), css_class
    html = panel._snapshot_html()
    assert 'class="kodisc-panel"' in html and 'class="kodisc-balance"' in html and 'class="kodisc-jobs-table"' in html


def test_paging_newest_first(panel, made_jobs):
    prev, nxt = (widgets_with_class(panel.widget, c)[0] for c in ("kodisc-prev", "kodisc-next"))
    assert [j for j, _ in visible_rows(panel)] == [made_jobs["Gamma"], made_jobs["Beta"]]
    assert prev.disabled and not nxt.disabled
    nxt.click()
    assert [j for j, _ in visible_rows(panel)] == [made_jobs["Alpha"]]
    assert nxt.disabled and not prev.disabled
    assert "jobs 3–3 of 3" in panel._snapshot_text()
    prev.click()
    assert [j for j, _ in visible_rows(panel)] == [made_jobs["Gamma"], made_jobs["Beta"]]


def test_status_filter(panel, made_jobs):
    dropdown = widgets_with_class(panel.widget, "kodisc-filter")[0]
    dropdown.value = "failed"
    assert [j for j, _ in visible_rows(panel)] == [made_jobs["Gamma"]]
    assert "Status filter: failed" in panel._snapshot_text()
    dropdown.value = "completed"
    assert [j for j, _ in visible_rows(panel)] == [made_jobs["Beta"], made_jobs["Alpha"]]
    panel.set_status("running")
    assert visible_rows(panel) == [] and dropdown.value == "running"
    with pytest.raises(ValueError, match="status must be one of"):
        panel.set_status("done")


def player_bundle_of(panel) -> dict:
    [output] = widgets_with_class(panel.widget, "kodisc-panel-player")[0].outputs
    return output["data"]


def player_html_of(panel) -> str:
    return player_bundle_of(panel)["text/html"]


def test_selecting_a_row_shows_its_player(panel, made_jobs, account):
    (_, beta_row), = [(j, r) for j, r in visible_rows(panel) if j == made_jobs["Beta"]]
    button(beta_row, "kodisc-select").click()
    bundle = player_bundle_of(panel)
    assert next(iter(bundle)) == PLAYER_MIME and bundle[PLAYER_MIME]["video"].startswith("data:video/mp4;base64,")
    assert bundle[PLAYER_MIME]["title"] == f"Beta · job {made_jobs['Beta']}"
    player = bundle["text/html"]
    assert "<video" in player
    assert account.base_url not in player, "a saved output must not depend on the server's URL"
    assert "kodisc-selected" in beta_row._dom_classes
    assert ".kodisc-job-row.kodisc-selected{" in panel._table_header.value  # the playing row is visibly marked
    # The player says which job it plays (a panel lists many), in plain words.
    summary = re.search(r'class="kodisc-summary"[^>]*>([^<]*)<', player).group(1)
    assert re.fullmatch(rf"Beta · job {made_jobs['Beta'][:8]} · \d+\.\d s · [\d.]+ credits?", summary)
    assert "1 credits" not in summary


def test_a_video_too_large_for_the_panel_points_at_resume(panel, made_jobs, monkeypatch, isolated_kodisc_env):
    from kodisc_jupyter.jupyter import panel as panel_module

    monkeypatch.setattr(panel_module, "_PLAYER_MAX_BYTES", 10)
    panel.select(made_jobs["Beta"])
    assert repr(panel).splitlines()[-1] == (f"Job {made_jobs['Beta']}'s video is too large to play inside the panel; "
                                            f"show it with %kodisc_resume {made_jobs['Beta']}")
    assert str(isolated_kodisc_env) not in repr(panel)  # the snapshot a saved notebook keeps


def test_failed_row_explains_escaped(panel, made_jobs):
    (_, gamma_row), = [(j, r) for j, r in visible_rows(panel) if j == made_jobs["Gamma"]]
    error_button = button(gamma_row, "kodisc-select")
    assert error_button.description == "Error"
    error_button.click()
    message = widgets_with_class(panel.widget, "kodisc-message")[0].value
    assert "&lt;script&gt;" in message and "<script>" not in message
    assert "<script>" not in panel._snapshot_html() and HOSTILE_ERROR not in panel._snapshot_html()
    assert widgets_with_class(panel.widget, "kodisc-panel-player")[0].outputs == ()


def test_thumbnails_are_small_data_urls(panel, made_jobs, account):
    html = panel._snapshot_html()
    thumbs = re.findall(r'<img src="([^"]+)"', html)
    assert thumbs, "completed jobs show a thumbnail"
    assert all(t.startswith("data:image/jpeg;base64,") and len(t) < 70_000 for t in thumbs)
    assert account.base_url not in html


def test_repoll_a_pending_job(account, made_jobs):
    pending = submit(simulated("Delta", seconds=2.0))
    panel = Panel(page_size=5)
    try:
        (job_id, row), *_ = visible_rows(panel)
        assert job_id == pending
        repoll = button(row, "kodisc-repoll")
        assert repoll.layout.display != "none" and button(row, "kodisc-select").layout.display == "none"
        assert re.search(r">(queued|running)<", row.children[0].value)
        with account.client() as client:
            client.wait(pending, timeout=30)  # the job ends on the server; the panel does not know yet
        assert history().get(pending).status in ("queued", "running")
        repoll.click()
        record = history().get(pending)
        assert record.status == "completed" and record.video_path.is_file()
        (job_id, row), *_ = visible_rows(panel)
        assert ">completed<" in row.children[0].value and repoll.layout.display == "none"
        assert f"Job {pending} is completed." in panel._snapshot_text()
        button(row, "kodisc-select").click()
        assert "<video" in player_html_of(panel)
    finally:
        panel.close()


def test_refreshes_itself_when_a_job_changes_off_the_renders_path(panel, made_jobs, monkeypatch):
    before = panel._snapshot_text()
    refreshed_on = []
    real_refresh = panel.refresh
    monkeypatch.setattr(panel, "refresh", lambda **kw: (refreshed_on.append(threading.current_thread()), real_refresh(**kw)))
    newest = run(simulated("Epsilon"))  # on this (the render's) thread
    deadline = time.monotonic() + 10
    while newest not in panel._snapshot_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert visible_rows(panel)[0][0] == newest
    assert newest in panel._snapshot_text() and newest not in before
    assert refreshed_on and threading.current_thread() not in refreshed_on  # the render never waited for one


def test_credits_spent_from_history(panel, made_jobs):
    spent = sum(r.credits_cost for r in history().list(limit=100))
    assert spent > 0
    text = panel._snapshot_text()
    shown = re.search(r"Spent ([\d.]+) credits today, ([\d.]+) in the last 7 days", text)
    assert float(shown.group(1)) == pytest.approx(spent, abs=0.01)
    assert float(shown.group(2)) == pytest.approx(spent, abs=0.01)


def test_key_never_in_views_or_history(panel, made_jobs, account, isolated_kodisc_env, caplog):
    panel.refresh()
    for _job_id, row in visible_rows(panel):
        button(row, "kodisc-select").click()
    views = [panel._snapshot_html(), panel._snapshot_text(), repr(panel)]
    views.append(json.dumps(widgets_with_class(panel.widget, "kodisc-panel-player")[0].outputs))
    assert all(account.api_key not in view for view in views)
    for path in isolated_kodisc_env.rglob("*"):
        if path.is_file():
            assert account.api_key.encode() not in path.read_bytes(), path
    assert account.api_key not in caplog.text


def test_refresh_button_picks_up_jobs_of_other_processes(panel, account, tmp_path):
    (tmp_path / "elsewhere.py").write_text(scene("Elsewhere"))
    made = subprocess.run([sys.executable, "-m", "kodisc_jupyter", "render", "elsewhere.py", "-ql"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    job_id = re.search(r"job (\S+) ·", made.stdout).group(1)
    assert job_id not in panel._snapshot_text(), "another process's job arrives with a refresh, not before"
    widgets_with_class(panel.widget, "kodisc-refresh")[0].click()
    assert visible_rows(panel)[0][0] == job_id


def test_rejected_key_keeps_the_history_visible(made_jobs, account):
    bad_key = "kdsc_live_" + secrets.token_hex(24)
    panel = Panel(Backend("kodisc", account.base_url, bad_key[:14], None, bad_key))
    try:
        panel.refresh()
        text = repr(panel)
        assert text.startswith("Kodisc · Balance unavailable: ") and "401" in text.splitlines()[0]
        assert [j for j, _ in visible_rows(panel)] == [made_jobs["Gamma"], made_jobs["Beta"], made_jobs["Alpha"]]
        assert bad_key not in text + panel._snapshot_html()
    finally:
        panel.close()

"""The panel's model without widgets, the account magics' lifetimes, against the real (simulated) local server."""
from __future__ import annotations

import subprocess
import sys

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from kodisc_jupyter.errors import ValidationError
from kodisc_jupyter.jupyter.account_magics import AccountMagics
from kodisc_jupyter.jupyter.panel import PanelModel
from kodisc_jupyter.jupyter.player import PLAYER_MIME
from kodisc_jupyter.rendering.backend import Backend, resolve_backend
from kodisc_jupyter.rendering.pipeline import history


def test_the_model_pages_filters_and_plays_without_widgets(made_jobs):
    model = PanelModel(resolve_backend("auto"), history(), page_size=2)
    assert model.records == [] and model.account is None  # nothing asked of anyone yet
    model.load_rows()
    assert [r.job_id for r in model.records] == [made_jobs["Gamma"], made_jobs["Beta"]] and model.total == 3
    model.go_to(5)  # clamped to the last page
    assert model.page == 1 and [r.job_id for r in model.records] == [made_jobs["Alpha"]]
    model.set_status("failed")
    assert (model.page, [r.job_id for r in model.records]) == (0, [made_jobs["Gamma"]])
    assert "Status filter: failed" in model.text() and "balance unknown" in model.text()
    assert model.select(made_jobs["Gamma"]) is None and "has no saved video (failed: " in model.message
    assert "&lt;script&gt;" in model.html() and "<script>" not in model.html()  # the hostile error, escaped
    bundle = model.select(made_jobs["Beta"])
    assert bundle[PLAYER_MIME]["video"].startswith("data:video/mp4;base64,") and model.selected == made_jobs["Beta"]
    model.load_balance()
    assert "credits (" in model.account_line() and model.account_line() in model.text()
    model.close()


@pytest.mark.parametrize(("arguments", "field"), [({"page_size": 0}, "page_size"), ({"page_size": True}, "page_size")])
def test_bad_model_arguments_are_validation_errors(arguments, field, isolated_kodisc_env):
    with pytest.raises(ValidationError) as caught:
        PanelModel(resolve_backend("local", start=False), history(), **arguments)
    assert caught.value.field == field
    model = PanelModel(resolve_backend("local", start=False), history())
    with pytest.raises(ValidationError, match="status must be one of"):
        model.set_status("done")


def test_a_panel_asks_for_the_balance_when_shown_not_when_made(made_jobs):
    from kodisc_jupyter import Panel

    unreachable = Backend("kodisc", "http://127.0.0.1:9/api/v2", "kdsc_live_0000", None, "kdsc_live_" + "0" * 48)
    panel = Panel(unreachable)  # no request: a refused connection would be in the balance line
    try:
        assert repr(panel).startswith("Kodisc · balance unknown") and made_jobs["Beta"] in repr(panel)
        with capture_output():
            panel._ipython_display_()
        assert repr(panel).startswith("Kodisc · Balance unavailable: Could not reach")
    finally:
        panel.close()


def test_rerunning_kodisc_panel_closes_the_old_panels_client(made_jobs):
    shell = InteractiveShell.instance()
    shell.register_magics(AccountMagics)
    magics = shell.magics_manager.registry["AccountMagics"]
    with capture_output():
        shell.run_line_magic("kodisc_panel", "")
        first = magics._panel
        shell.run_line_magic("kodisc_panel", "")
    try:
        assert magics._panel is not first and first.model._client is None  # closed and let go
        assert magics._panel.model._client is not None  # the new one asked /me when shown
    finally:
        first.close()
        magics._panel.close()
        magics._panel = None


def test_kodisc_jobs_loads_no_panel_and_closes_its_history(made_jobs):
    code = ("import sys; from IPython.core.interactiveshell import InteractiveShell; "
            "from IPython.utils.capture import capture_output; "
            "from kodisc_jupyter.jupyter.account_magics import AccountMagics; "
            "from kodisc_jupyter.rendering import history as h; "
            "opened = []; real = h.History.close; "
            "h.History.close = lambda self: (opened.append(self), real(self)); "
            "shell = InteractiveShell.instance(); shell.register_magics(AccountMagics)\n"
            "with capture_output() as out: shell.run_line_magic('kodisc_jobs', '')\n"
            "assert 'jobs 1–3 of 3' in out.outputs[0].data['text/plain'], out.outputs\n"
            "bad = [m for m in ('kodisc_jupyter.jupyter.panel', 'ipywidgets') if m in sys.modules]\n"
            "assert not bad, bad\n"
            "assert len(opened) == 1, opened")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

"""`%kodisc_credits`, `%kodisc_jobs`, `%kodisc_panel`, `%kodisc_login`, `%kodisc_logout` in a real IPython shell."""
from __future__ import annotations

import getpass
import logging
import re
import secrets

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from kodisc_jupyter.credentials import load_key
from kodisc_jupyter.jupyter.account_magics import AccountMagics


@pytest.fixture(scope="module")
def shell():
    shell = InteractiveShell.instance()
    shell.register_magics(AccountMagics)
    return shell


def magic(shell, line):
    name, _, rest = line.partition(" ")
    with capture_output() as captured:
        shell.run_line_magic(name, rest)
    return captured


def test_credits_is_one_line_equal_to_me(shell, account, made_jobs):
    out = magic(shell, "kodisc_credits").stdout
    with account.client() as client:
        me = client.me()
    assert out.count("\n") == 1
    total, paid, free = (float(x) for x in re.search(r"([\d.]+) credits \(([\d.]+) paid, ([\d.]+) free\)", out).groups())
    assert (total, paid, free) == pytest.approx((me.credits.total, me.credits.paid, me.credits.free), abs=0.005)
    assert me.key_prefix in out and account.api_key not in out


def test_jobs_table_text_and_html(shell, made_jobs):
    captured = magic(shell, "kodisc_jobs -n 2")
    (output,) = captured.outputs
    text, html = output.data["text/plain"], output.data["text/html"]
    assert made_jobs["Gamma"] in text and made_jobs["Beta"] in text and made_jobs["Alpha"] not in text
    assert "jobs 1–2 of 3" in text
    assert 'class="kodisc-jobs-table"' in html and f'data-job-id="{made_jobs["Beta"]}"' in html
    failed = magic(shell, "kodisc_jobs --status failed").outputs[0].data["text/plain"]
    assert made_jobs["Gamma"] in failed and made_jobs["Beta"] not in failed and "failed" in failed


@pytest.mark.parametrize("line", ["kodisc_jobs --status done", "kodisc_jobs -n 0", "kodisc_panel -n x"])
def test_jobs_bad_options(shell, line, isolated_kodisc_env):
    with pytest.raises(UsageError) as raised:
        magic(shell, line)
    assert "_positive" not in str(raised.value)  # argparse names the type function on a plain ValueError


def test_jobs_bad_count_says_what_is_expected(shell, isolated_kodisc_env):
    with pytest.raises(UsageError, match=r"must be >= 1, got 0"):  # the kodisc command's wording
        magic(shell, "kodisc_jobs -n 0")


def test_jobs_empty_filter_does_not_claim_an_empty_history(shell, made_jobs):
    (output,) = magic(shell, "kodisc_jobs --status queued").outputs
    assert output.data["text/plain"] == "No queued jobs in the history."
    assert "No queued jobs in the history." in output.data["text/html"]


def test_panel_magic_displays_widget_with_snapshots(shell, made_jobs):
    (output,) = magic(shell, "kodisc_panel --status completed").outputs
    assert "application/vnd.jupyter.widget-view+json" in output.data
    assert made_jobs["Beta"] in output.data["text/plain"] and made_jobs["Gamma"] not in output.data["text/plain"]
    assert 'class="kodisc-panel"' in output.data["text/html"]


def test_login_with_good_key_saves_it(shell, sim_server, monkeypatch, caplog):
    user = sim_server.create_user(credits=42)
    monkeypatch.setenv("KODISC_BASE_URL", sim_server.base_url)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": user.api_key)
    with caplog.at_level(logging.DEBUG, logger="kodisc_jupyter"):
        out = magic(shell, "kodisc_login").stdout
    assert load_key() == user.api_key
    from kodisc_jupyter import Kodisc

    with Kodisc(user.api_key) as client:
        total = client.me().credits.total
    assert out.strip() == f"Logged in: renders now use the key {user.api_key[:14]} ({total:g} credits)."
    assert user.api_key not in caplog.text
    out = magic(shell, "kodisc_logout").stdout
    assert out.strip() == "Logged out: the saved Kodisc key was removed."
    assert load_key() is None
    assert magic(shell, "kodisc_logout").stdout.strip() == "No saved Kodisc key to remove."


def test_login_with_unknown_key_saves_nothing(shell, sim_server, monkeypatch):
    bad_key = "kdsc_live_" + secrets.token_hex(24)
    monkeypatch.setenv("KODISC_BASE_URL", sim_server.base_url)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": bad_key)
    with pytest.raises(UsageError, match="rejected .*401.*nothing was saved") as raised:
        magic(shell, "kodisc_login")
    assert bad_key not in str(raised.value) and bad_key[:14] in str(raised.value)
    assert load_key() is None


def test_login_refuses_a_malformed_key_without_a_request(shell, sim_server, monkeypatch):
    monkeypatch.setenv("KODISC_BASE_URL", sim_server.base_url)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": "sk-not-a-kodisc-key")
    with pytest.raises(UsageError, match="not a Kodisc API key.*nothing was saved") as raised:
        magic(shell, "kodisc_login")
    assert "sk-not-a-kodisc-key" not in str(raised.value)
    assert load_key() is None


def test_login_refuses_a_key_argument(shell, monkeypatch):
    key = "kdsc_live_" + secrets.token_hex(24)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": pytest.fail("must not prompt"))
    with pytest.raises(UsageError, match="saved in the notebook") as raised:
        magic(shell, f"kodisc_login {key}")
    assert key not in str(raised.value)
    assert load_key() is None


def test_logout_mentions_an_environment_key(shell, account):
    out = magic(shell, "kodisc_logout").stdout
    assert "KODISC_API_KEY is still set" in out and account.api_key not in out


def test_only_the_newest_panel_follows_jobs(shell, made_jobs):
    from panel_helpers import run, simulated

    magics = shell.magics_manager.registry["AccountMagics"]
    magic(shell, "kodisc_panel")
    first = magics._panel
    magic(shell, "kodisc_panel")
    second = magics._panel
    newest = run(simulated("Zeta"))
    assert newest in second._snapshot_text()
    assert newest not in first._snapshot_text()
    first.close()
    second.close()

"""`python -m kodisc_jupyter serve` and `keys ...` as real subprocesses."""
from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest
from server_helpers import Serve, User

from kodisc_jupyter import webhooks
from kodisc_jupyter.client import NotFoundError


def kodisc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kodisc_jupyter", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def served(tmp_path):
    servers: list[Serve] = []

    def start(*extra: str) -> Serve:
        servers.append(Serve(tmp_path / "server", "--renderer", "simulate", *extra))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def test_serve_announces_url_and_key_then_serves_them(served, tmp_path):
    server = served()
    assert "whsec_" in server.lines[2] and str(tmp_path / "server") in server.lines[2]
    user = User(server, server.api_key)
    assert user.kodisc.me().key_prefix == server.api_key[:14]
    assert user.wait(user.submit()).status == "completed"
    user.close()
    assert server.stop(signal.SIGTERM) == 0
    assert "Traceback" not in server.stderr and server.api_key not in server.stderr
    assert server.api_key not in server.lines[2] + server.later_stdout  # only on the KODISC_API_KEY= line


def test_sigint_stops_cleanly_and_a_restart_reprints_the_same_key(served):
    first = served()
    assert first.stop(signal.SIGINT) == 0
    second = served()
    assert second.api_key == first.api_key


def test_ctrl_c_right_after_the_announcement_stops_cleanly(served):
    """The lines are printed only once SIGINT/SIGTERM are handled: a script may stop it at once."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGINT, signal.SIGINT):
        server = served()
        assert server.stop(sig) == 0
        assert "KeyboardInterrupt" not in server.stderr and "Traceback" not in server.stderr


def test_keys_create_adds_a_user_the_running_server_accepts(served, tmp_path):
    server = served()
    owner = User(server, server.api_key)
    job_id = owner.submit()
    created = kodisc("keys", "create", "--data-dir", str(tmp_path / "server"), "--credits", "3")
    assert created.returncode == 0, created.stderr
    key_line, human = created.stdout.splitlines()
    assert re.fullmatch(r"KODISC_API_KEY=kdsc_live_[0-9a-f]{48}", key_line) and "whsec_" in human
    stranger = User(server, key_line.split("=", 1)[1])
    assert stranger.credits().paid == 3
    with pytest.raises(NotFoundError):
        stranger.job(job_id)
    owner.close()
    stranger.close()


def test_keys_set_webhook_takes_a_whole_key_and_never_echoes_one(served, tmp_path):
    server = served()
    data_dir = str(tmp_path / "server")
    result = kodisc("keys", "set-webhook", "https://example.com/hook", "--key", server.api_key, "--data-dir", data_dir)
    assert result.returncode == 0, result.stderr
    assert server.api_key not in result.stdout and server.api_key[:14] in result.stdout
    unknown = "kdsc_live_" + "0" * 48
    result = kodisc("keys", "set-webhook", "none", "--key", unknown, "--data-dir", data_dir)
    assert result.returncode == 2 and "no key match 'kdsc_live_0000…'" in result.stderr
    assert unknown not in result.stderr


def test_keys_set_webhook_sets_the_default_delivery(served, tmp_path, make_receiver):
    hook = make_receiver()
    server = served("--allow-http-webhooks", "--webhook-retry-delays", "0.2,0.2,0.2")
    secret = re.search(r"whsec_[0-9a-f]+", server.lines[2]).group(0)
    result = kodisc("keys", "set-webhook", hook.url, "--data-dir", str(tmp_path / "server"))
    assert result.returncode == 0, result.stderr
    user = User(server, server.api_key)
    job_id = user.submit()
    [(headers, body)] = hook.wait_for(1)
    assert webhooks.verify(body, headers["kodisc-signature"], secret)["jobId"] == job_id
    user.close()


@pytest.mark.parametrize("args, word", [
    (["serve", "--port", "70000"], "65535"),
    (["serve", "--renderer", "blender"], "invalid choice"),
    (["serve", "--fault-5xx-rate", "2"], "between 0 and 1"),
    (["keys", "set-webhook", "http://example.com/hook"], "https://"),
])
def test_bad_input_exits_2_with_a_one_line_reason(tmp_path, args, word):
    result = kodisc(*args, "--data-dir", str(tmp_path / "server"))
    assert result.returncode == 2
    assert word in result.stderr and result.stdout == ""


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["keys", "set-webhook", "none"]])
@pytest.mark.parametrize("content", ["{not json", '{"user_id": "u_1"}', "[]"])
def test_an_unreadable_owner_file_exits_2_with_a_one_line_reason(tmp_path, command, content):
    (tmp_path / "server").mkdir()
    (tmp_path / "server" / "owner.json").write_text(content)
    result = kodisc(*command, "--data-dir", str(tmp_path / "server"))
    assert result.returncode == 2 and result.stdout == ""
    assert "owner.json is unreadable" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_serve_on_a_busy_port_exits_2(served, tmp_path):
    server = served()
    port = server.base_url.split(":")[2].split("/")[0]
    result = kodisc("serve", "--port", port, "--data-dir", str(tmp_path / "other"))
    assert result.returncode == 2 and "cannot listen" in result.stderr


def test_server_options_are_one_checked_value(tmp_path):
    from kodisc_jupyter.server import ServerOptions, start_local_server

    base = ServerOptions(renderer="simulate", workers=2)
    with start_local_server(tmp_path / "server", base, credits=7) as server:
        assert server.options == ServerOptions(renderer="simulate", workers=2, credits=7)
    with pytest.raises(ValueError, match="render_timeout must be a number of seconds > 0; got nan"):
        ServerOptions(render_timeout=float("nan"))
    with pytest.raises(TypeError, match="unknown local server option.*: colour"):
        ServerOptions.of(base, colour="red")

"""`python -m kodisc_jupyter render | me | jobs | resume` as a subprocess, against the real local server."""
from __future__ import annotations

import os
import pty
import re
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kodisc_jupyter.cli.exit_codes import EXIT_API_ERROR, EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_RENDER_FAILED
from kodisc_jupyter.server._process import work_root


def scene(name: str, body: str = "self.add(Circle())\n        self.wait(0.5)") -> str:
    return f"from manim import *\n\n\nclass {name}(Scene):\n    def construct(self):\n        {body}\n"


def kodisc(*args: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kodisc_jupyter", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=180, **kwargs)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("kodisc: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def use(server, monkeypatch, credits: int = 500):
    user = server.create_user(credits=credits)
    monkeypatch.setenv("KODISC_API_KEY", user.api_key)
    monkeypatch.setenv("KODISC_BASE_URL", server.base_url)
    return user


@pytest.mark.render
def test_render_end_to_end_with_manim(manim_server, monkeypatch, tmp_path):
    user = use(manim_server, monkeypatch)
    (tmp_path / "hello.py").write_text(scene(
        "Hello", 'self.add_subcaption("Hello there", duration=1)\n        self.play(Create(Circle()), run_time=1)'))
    result = kodisc("render", "hello.py", "-ql", "-o", "out/hello.mp4", cwd=tmp_path)
    assert result.returncode == EXIT_OK, result.stderr
    video, captions = tmp_path / "out/hello.mp4", tmp_path / "out/hello.vtt"
    import av

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (854, 480)
        assert container.duration > 0
    assert "Hello there" in captions.read_text()
    job_id = re.search(r"job (\S+) ·", result.stdout).group(1)
    assert re.fullmatch(rf"Saved out/hello\.mp4 \+ out/hello\.vtt \(job {job_id} · \d+\.\d s · "
                        r"(1 credit|[\d.]+ credits) · Kodisc\)\n", result.stdout), result.stdout  # never "1 credits"

    listing = kodisc("jobs", cwd=tmp_path)
    assert re.search(rf"{job_id}\s+Hello\s+low\s+completed", listing.stdout), listing.stdout

    before = manim_server.job_count()
    again = kodisc("render", "hello.py", "Hello", "-q", "low", "-o", "again.mp4", cwd=tmp_path)
    assert again.returncode == EXIT_OK
    assert again.stdout == f"Saved again.mp4 + again.vtt (reused the cached render of job {job_id}: 0 credits; " \
                           "--force renders again)\n"
    assert manim_server.job_count() == before
    assert (tmp_path / "again.mp4").read_bytes() == video.read_bytes()
    assert user.api_key not in result.stdout + result.stderr + listing.stdout + again.stdout


@pytest.mark.render
def test_failed_render_exits_1(manim_server, monkeypatch, tmp_path):
    use(manim_server, monkeypatch)
    (tmp_path / "broken.py").write_text(scene("Broken", 'raise RuntimeError("no <circle> today")'))
    result = kodisc("render", "broken.py", "-ql", cwd=tmp_path)
    assert result.returncode == EXIT_RENDER_FAILED
    assert "render failed" in one_line_error(result) and "no <circle> today" in result.stderr
    assert not (tmp_path / "Broken.mp4").exists()
    assert re.search(r"Broken\s+low\s+failed", kodisc("jobs", "--status", "failed", cwd=tmp_path).stdout)


def test_bad_input_exits_2_and_sends_nothing(sim_server, monkeypatch, tmp_path):
    use(sim_server, monkeypatch)
    (tmp_path / "syntax.py").write_text("from manim import *\nclass A(Scene:\n    pass\n")
    (tmp_path / "two.py").write_text(scene("One") + "\n\n" + scene("Two"))
    (tmp_path / "ok.py").write_text(scene("Fine"))
    before = sim_server.job_count()
    cases = [("render", "missing.py"), ("render", "syntax.py"), ("render", "two.py"),
             ("render", "ok.py", "Nope"), ("render", "ok.py", "-o", "video.gif"),
             ("render", "ok.py", "--fps", "0"), ("resume", "clx_not_in_history"), ("jobs", "--status", "done")]
    for args in cases:
        result = kodisc(*args, cwd=tmp_path)
        assert result.returncode == EXIT_BAD_INPUT, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert sim_server.job_count() == before
    assert "Two" in one_line_error(kodisc("render", "two.py", cwd=tmp_path))


def test_api_errors_exit_3(sim_server, monkeypatch, tmp_path):
    (tmp_path / "ok.py").write_text(scene("Fine"))
    bad_key = "kdsc_live_" + secrets.token_hex(24)
    monkeypatch.setenv("KODISC_API_KEY", bad_key)
    monkeypatch.setenv("KODISC_BASE_URL", sim_server.base_url)
    for args in (("me",), ("render", "ok.py", "-ql")):
        result = kodisc(*args, cwd=tmp_path)
        assert result.returncode == EXIT_API_ERROR
        assert "401" in one_line_error(result) or "KODISC_API_KEY" in result.stderr
        assert bad_key not in result.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("KODISC_BASE_URL", f"http://127.0.0.1:{closed_port}/api/v2")
    result = kodisc("me", cwd=tmp_path)
    assert result.returncode == EXIT_API_ERROR
    one_line_error(result)


def test_no_key_messages_speak_the_command_line(tmp_path):
    (tmp_path / "cloud.py").write_text(scene("Cloud"))
    result = kodisc("render", "cloud.py", "--backend", "cloud", cwd=tmp_path)
    message = one_line_error(result)
    assert "(or render locally: --backend local)" in message and "%config" not in message, message


def test_me_equals_the_balance(sim_server, monkeypatch, tmp_path):
    user = use(sim_server, monkeypatch, credits=123)
    result = kodisc("me", cwd=tmp_path)
    assert result.returncode == EXIT_OK
    from kodisc_jupyter import Kodisc

    with Kodisc(user.api_key, base_url=sim_server.base_url) as client:
        credits = client.me().credits
    assert result.stdout.startswith(f"{credits.total:g} credits ({credits.paid:g} paid, {credits.free:g} free)")
    assert user.api_key[:14] in result.stdout
    assert result.stdout.count("\n") == 1 and user.api_key not in result.stdout


def test_no_wait_then_resume(sim_server, monkeypatch, tmp_path):
    use(sim_server, monkeypatch)
    (tmp_path / "later.py").write_text(scene("Later"))
    submitted = kodisc("render", "later.py", "-ql", "--no-wait", cwd=tmp_path)
    assert submitted.returncode == EXIT_OK, submitted.stderr
    job_id = re.search(r"Submitted job (\S+);", submitted.stdout).group(1)
    assert f"kodisc resume {job_id}" in submitted.stdout
    assert not (tmp_path / "Later.mp4").exists()
    queued = kodisc("jobs", "--status", "queued", cwd=tmp_path).stdout
    assert job_id in queued
    assert kodisc("jobs", "--status", "failed", cwd=tmp_path).stdout.strip() == "No failed jobs in the history."

    resumed = kodisc("resume", job_id, "-o", "later.mp4", cwd=tmp_path)
    assert resumed.returncode == EXIT_OK, resumed.stderr
    assert (tmp_path / "later.mp4").stat().st_size > 0
    assert re.search(rf"{job_id}\s+Later\s+low\s+completed", kodisc("jobs", "-n", "1", cwd=tmp_path).stdout)


def test_progress_plain_lines_when_not_a_tty(sim_server, monkeypatch, tmp_path):
    use(sim_server, monkeypatch)
    (tmp_path / "plain.py").write_text(scene("Plain"))
    result = kodisc("render", "plain.py", "-ql", cwd=tmp_path)
    assert result.returncode == EXIT_OK, result.stderr
    assert "\r" not in result.stderr
    # the status bar's words (one formatter): "Plain: submitting · 0.0 s · ..."
    states = [line.split(" · ")[0].removeprefix("Plain: ") for line in result.stderr.splitlines()
              if line.startswith("Plain: ")]
    assert states[0] == "submitting" and states[-1] == "completed"


def test_progress_one_live_line_on_a_tty(sim_server, monkeypatch, tmp_path):
    use(sim_server, monkeypatch)
    (tmp_path / "live.py").write_text(scene("Live"))
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "kodisc_jupyter", "render", "live.py", "-ql"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=follower, text=True)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    stdout, _ = process.communicate(timeout=60)
    os.close(leader)
    terminal = b"".join(chunks).decode()
    assert process.returncode == EXIT_OK
    assert terminal.count("\r") >= 2 and "Live" in terminal and "completed" in terminal
    assert terminal.rstrip("\r\n").count("\n") == 0, "one line, rewritten in place"
    assert "Saved Live.mp4" in stdout


@pytest.mark.render
def test_interrupt_leaves_the_job_running(manim_server, monkeypatch, tmp_path):
    use(manim_server, monkeypatch)
    (tmp_path / "slow.py").write_text(scene("Slow", "self.play(Create(Circle()), run_time=2)"))
    process = subprocess.Popen([sys.executable, "-m", "kodisc_jupyter", "render", "slow.py", "-ql"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        if "Slow: queued · " in line:
            break
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == EXIT_INTERRUPTED
    job_id = re.search(r"job (\S+) goes on: pick it up with `kodisc resume \1`", stderr).group(1)
    assert "Traceback" not in stderr and not (tmp_path / "Slow.mp4").exists()
    resumed = kodisc("resume", job_id, cwd=tmp_path)
    assert resumed.returncode == EXIT_OK, resumed.stderr
    assert (tmp_path / "Slow.mp4").stat().st_size > 0


@pytest.mark.render
def test_render_without_a_key_uses_the_embedded_local_server(tmp_path, isolated_kodisc_env):
    (tmp_path / "local.py").write_text(scene("Local", "self.play(Create(Square()), run_time=0.5)"))
    refused = kodisc("render", "local.py", "-ql", "--no-wait", cwd=tmp_path)
    assert refused.returncode == EXIT_BAD_INPUT and "--no-wait needs Kodisc" in one_line_error(refused)
    result = kodisc("render", "local.py", "-ql", cwd=tmp_path)
    assert result.returncode == EXIT_OK, result.stderr
    assert "Traceback" not in result.stderr and "Exception" not in result.stderr  # its quick exit is a clean one
    work = work_root((isolated_kodisc_env / "server").resolve(), create=False)
    assert not (work / "renders").exists()  # the head start's worker rendered (or was ended): nothing is left
    assert not [pid for pid in os.listdir("/proc") if pid.isdigit() and _names(pid, str(work))]
    assert "Rendering locally" in result.stderr and "· local)" in result.stdout
    assert "%kodisc_login in a notebook" in result.stderr  # a shell cannot run the magic itself
    assert (tmp_path / "Local.mp4").stat().st_size > 0
    me = kodisc("me", cwd=tmp_path)
    assert me.returncode == EXIT_OK and me.stdout.rstrip().endswith("· local")


@pytest.mark.render
def test_a_command_that_fails_before_rendering_leaves_no_worker(tmp_path, isolated_kodisc_env):
    failed = kodisc("render", "missing.py", cwd=tmp_path)  # its head start had started a worker
    assert failed.returncode == EXIT_BAD_INPUT and "cannot read missing.py" in one_line_error(failed)
    work = work_root((isolated_kodisc_env / "server").resolve(), create=False)
    assert not (work / "renders").exists()  # ended at exit, its folder and the folders above it removed
    assert not [pid for pid in os.listdir("/proc") if pid.isdigit() and _names(pid, str(work))]


def _names(pid: str, text: str) -> bool:
    """Whether process `pid`'s command line mentions `text` (gone processes do not)."""
    try:
        return text.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False

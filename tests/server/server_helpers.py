"""Server test helpers: a user of a local server (our client + raw HTTP) and a loopback webhook receiver."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from kodisc_jupyter.client import Credits, Job, Kodisc, RetryPolicy
from kodisc_jupyter.server._process import work_root

HELLO = """\
from manim import *

class Hello(Scene):
    def construct(self):
        self.play(Create(Circle()), run_time=0.5)
"""


FAST_RETRIES = RetryPolicy(base=0.01, cap=0.05, max_retry_after=0.05)  # honours Retry-After, briefly


class User:
    """One key on a local server: the project's client (`.kodisc`) and raw HTTP (`.http`) for exact bodies."""

    def __init__(self, server, api_key: str | None = None, **client_options) -> None:
        key = api_key or server.api_key
        self.server = server
        self.kodisc = Kodisc(key, base_url=server.base_url, retry_policy=FAST_RETRIES, **client_options)
        self.http = httpx.Client(base_url=server.base_url, timeout=30, headers={"Authorization": f"Bearer {key}"})

    def post(self, body=None, **kwargs) -> httpx.Response:
        """A raw POST /render (to send what the client would refuse to)."""
        if body is not None:
            kwargs["json"] = body
        return self.http.post("/render", **kwargs)

    def submit(self, code: str = HELLO, class_name: str = "Hello", *, quality: str = "low", **options) -> str:
        return self.kodisc.render(code, class_name, quality=quality, **options).job_id

    def job(self, job_id: str) -> Job:
        return self.kodisc.get_job(job_id)

    def raw_job(self, job_id: str) -> dict:
        response = self.http.get(f"/render/{job_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait(self, job_id: str, timeout: float = 60) -> Job:
        return self.kodisc.wait(job_id, timeout=timeout)

    def credits(self) -> Credits:
        return self.kodisc.me().credits

    def close(self) -> None:
        self.kodisc.close()
        self.http.close()


class WebhookReceiver:
    """A loopback HTTP server that records deliveries and answers the given statuses in turn (then 200).

    A status given as `(status, seconds)` is answered only after that many seconds; as
    `(status, seconds, "drip")` the answer starts at once but each of its lines follows `seconds`
    after the previous one (a receiver that never goes silent for long, yet never finishes).
    """

    def __init__(self, statuses=()) -> None:
        self.statuses = [(*answer, None)[:3] if isinstance(answer, tuple) else (answer, 0.0, None)
                         for answer in statuses]
        self.deliveries: list[tuple[dict, bytes]] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                with receiver.arrived:
                    receiver.deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    status, delay, mode = receiver.statuses.pop(0) if receiver.statuses else (200, 0.0, None)
                    receiver.arrived.notify_all()
                if mode == "drip":
                    lines = [f"HTTP/1.1 {status} OK", *(f"x-drip-{n}: {n}" for n in range(5)), "content-length: 0", ""]
                    for line in lines:
                        self.wfile.write(f"{line}\r\n".encode())
                        self.wfile.flush()
                        time.sleep(delay)
                    return
                time.sleep(delay)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 20) -> list[tuple[dict, bytes]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.deliveries) >= count, timeout)
            return list(self.deliveries)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Serve:
    """`kodisc serve` in a subprocess; its announced base URL and key, like a shell `export` would see them."""

    def __init__(self, data_dir, *extra: str, env: dict[str, str] | None = None, cwd=None,
                 python: str = sys.executable) -> None:
        self.process = subprocess.Popen(
            [python, "-m", "kodisc_jupyter", "serve", "--port", "0", "--data-dir", str(data_dir),
             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
        self.lines = [self.process.stdout.readline() for _ in range(3)]
        base_line, key_line = self.lines[0].rstrip("\n"), self.lines[1].rstrip("\n")
        assert re.fullmatch(r"KODISC_BASE_URL=http://127\.0\.0\.1:\d+/api/v2", base_line), self.lines
        assert re.fullmatch(r"KODISC_API_KEY=kdsc_live_[0-9a-f]{48}", key_line), self.lines
        self.base_url = base_line.split("=", 1)[1]
        self.api_key = key_line.split("=", 1)[1]

    def stop(self, sig=signal.SIGTERM) -> int:
        if self.process.stdout.closed:
            return self.process.returncode
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=20)
        self.stderr = self.process.stderr.read()
        self.later_stdout = self.process.stdout.read()  # everything after the three announced lines
        self.process.stdout.close()
        self.process.stderr.close()
        return code


def workers_of(server) -> set[int]:
    """The sandboxed render processes (outer bwrap) of this server: their command lines name its folders."""
    marker = str(work_root(server.data_dir)).encode()
    found = set()
    for _ in range(3):  # a worker execs twice as it starts (its cgroup's shell, then bwrap): mid-exec it has no line
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and marker in (entry / "cmdline").read_bytes():
                    found.add(int(entry.name))
            except OSError:
                continue
        time.sleep(0.02)
    return {pid for pid in found if _parent(pid) not in found}  # bwrap's own init inside carries the same line


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError):
        return 0

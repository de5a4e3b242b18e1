"""A real JupyterHub (from PyPI, with configurable-http-proxy from npm) running `kodisc serve --jupyterhub`.

The service is the class's gateway (`--renderer kodisc`) to a 'Kodisc' that is the session's
simulated server, with the teacher's key in the service's environment only. Two users' single-user
servers (SimpleLocalProcessSpawner) run notebook cells on kernels their own server started (over
its kernel websocket, as JupyterLab does): they render through the hub service with no Kodisc key,
the same cell is one upstream render for both, and one cannot see the other's job. The
configuration is the one docs/server.md gives; only ports, folders and the upstream are the test's.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.hub

ADMIN_TOKEN = uuid.uuid4().hex  # the test's own service token (admin:users, admin:servers, access:servers)
CONFIG = """
import sys
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.public_url = "http://127.0.0.1:{port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {homes!r} + "/{{username}}"
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.args = ["--ServerApp.allow_root=True"]
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90

# --- as in docs/server.md, "Running a class" ---------------------------------------------
c.JupyterHub.services = [
    {{"name": "kodisc", "url": "http://127.0.0.1:{service_port}",
      "command": [sys.executable, "-m", "kodisc_jupyter", "serve", "--jupyterhub", "--renderer", "kodisc",
                  "--credits-per-user", "50", "--free-credits", "0", "--data-dir", {data_dir!r}],
      "environment": {{"KODISC_API_KEY": {upstream_key!r}, "KODISC_BASE_URL": {upstream_url!r}}}}},
    {{"name": "tester", "api_token": {admin!r}}},
]
c.JupyterHub.load_roles = [
    {{"name": "user", "scopes": ["self", "access:services!service=kodisc"]}},
    {{"name": "server", "scopes": ["users:activity!user", "access:servers!server", "access:services!service=kodisc"]}},
    {{"name": "tester", "scopes": ["admin:users", "admin:servers", "access:servers"], "services": ["tester"]}},
]
c.Spawner.environment = {{"KODISC_BASE_URL": "http://127.0.0.1:{port}/services/kodisc/api/v2"}}
"""

CELLS = [
    "%load_ext kodisc_jupyter",
    "%%kodisc -ql --out clip --metadata '{\"simulate\": {\"seconds\": 0.2}}'\nfrom manim import *\n\n\n"
    "class Hello(Scene):\n    def construct(self):\n        self.play(Create(Circle()), run_time=0.5)\n",
    "print('JOB', clip.job.job_id, clip.job.status, clip.video.stat().st_size > 0)",
    "%kodisc_credits",
    "import subprocess, sys\nprint(subprocess.run([sys.executable, '-m', 'kodisc_jupyter', 'me'], capture_output=True, "
    "text=True).stdout)",
    "%kodisc_panel",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proxy_command() -> str:
    found = shutil.which("configurable-http-proxy", path=f"{Path(sys.executable).parent}{os.pathsep}"
                                                        f"{os.environ.get('PATH', '')}")
    assert found, "configurable-http-proxy is missing: `make test` installs it (npm) into the venv"
    return found


class Hub:
    def __init__(self, folder: Path, upstream) -> None:
        self.port, self.folder = free_port(), folder
        config = CONFIG.format(port=self.port, hub_port=free_port(), proxy_port=free_port(), proxy=proxy_command(),
                               homes=str(folder / "homes"), service_port=free_port(), data_dir=str(folder / "kodisc"),
                               admin=ADMIN_TOKEN, upstream_key=upstream.api_key, upstream_url=upstream.base_url)
        (folder / "jupyterhub_config.py").write_text(config)
        (folder / "homes").mkdir()
        self.log = open(folder / "hub.log", "w+")  # noqa: SIM115  closed in stop()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KODISC_", "JUPYTERHUB_"))}
        self.process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", "jupyterhub_config.py"],
                                        cwd=folder, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=env, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = httpx.Client(base_url=f"{self.url}/hub/api", headers={"Authorization": f"token {ADMIN_TOKEN}"},
                                timeout=30)
        self._until(lambda: self._answers(f"{self.url}/services/kodisc/api/v2/me", 401), 90, "the hub and its service")

    def _answers(self, url: str, status: int) -> bool:
        try:
            return httpx.get(url, timeout=5).status_code == status
        except httpx.HTTPError:
            return False

    def _until(self, check, seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not check():
            assert self.process.poll() is None, f"the hub exited:\n{self.text()[-3000:]}"
            assert time.monotonic() < deadline, f"{what} did not come up:\n{self.text()[-3000:]}"
            time.sleep(0.3)

    def text(self) -> str:
        self.log.flush()
        return (self.folder / "hub.log").read_text(errors="replace")

    def spawn(self, name: str) -> None:
        assert self.api.post(f"/users/{name}").status_code in (201, 409)
        assert self.api.post(f"/users/{name}/server").status_code in (201, 202)
        self._until(lambda: self.api.get(f"/users/{name}").json().get("servers", {}).get("", {}).get("ready"),
                    90, f"{name}'s server")

    def stop(self) -> None:
        self.api.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


class Kernel:
    """A kernel the user's own single-user server started, driven over its websocket (as JupyterLab does)."""

    def __init__(self, hub: Hub, user: str) -> None:
        self.hub, self.user, self.session = hub, user, uuid.uuid4().hex
        answer = hub.api.post(f"{hub.url}/user/{user}/api/kernels", json={"name": "python3"})
        assert answer.status_code == 201, answer.text
        self.kernel_id = answer.json()["id"]
        self.ws = None

    async def connect(self) -> None:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        url = f"ws://127.0.0.1:{self.hub.port}/user/{self.user}/api/kernels/{self.kernel_id}/channels"
        self.ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {ADMIN_TOKEN}"}))

    async def run(self, code: str, timeout: float = 90) -> str:
        """Everything the cell printed, displayed or raised, as text (plain, HTML, and the MIME types it used)."""
        msg_id = uuid.uuid4().hex
        await self.ws.write_message(json.dumps({
            "header": {"msg_id": msg_id, "username": self.user, "session": self.session, "msg_type": "execute_request",
                       "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        parts: list[str] = []
        while True:
            raw = await asyncio.wait_for(self.ws.read_message(), timeout)
            assert raw is not None, "the kernel's websocket closed"
            message = json.loads(raw)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                parts.append(content["text"])
            elif kind in ("display_data", "execute_result", "update_display_data"):
                parts += [*content["data"], str(content["data"].get("text/plain", "")),
                          str(content["data"].get("text/html", ""))]
            elif kind == "error":
                parts.append("ERROR " + "\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                return "\n".join(parts)

    async def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        self.hub.api.delete(f"{self.hub.url}/user/{self.user}/api/kernels/{self.kernel_id}")


@pytest.fixture(scope="module")
def hub(tmp_path_factory, sim_server):
    running = Hub(tmp_path_factory.mktemp("hub"), sim_server)
    try:
        for name in ("alice", "bob"):
            running.spawn(name)
        yield running
    finally:
        running.stop()


async def test_two_students_render_through_the_hub_service_with_no_kodisc_key(hub, sim_server):
    outputs: dict[str, list[str]] = {}
    before = sim_server.job_count()
    for user in ("alice", "bob"):
        kernel = Kernel(hub, user)
        await kernel.connect()
        try:
            outputs[user] = [await kernel.run(cell) for cell in CELLS]
            if user == "bob":  # alice's job, asked for with bob's sign-in
                alice_job = next(line.split()[1] for line in outputs["alice"][2].splitlines() if line.startswith("JOB"))
                outputs["bob"].append(await kernel.run(
                    "from kodisc_jupyter import Kodisc\nfrom kodisc_jupyter.errors import NotFoundError\n"
                    f"try:\n    Kodisc().get_job({alice_job!r})\nexcept NotFoundError as exc:\n    print('NOT FOUND', exc)"))
            token = (await kernel.run("import os; print(os.environ['JUPYTERHUB_API_TOKEN'])")).strip()
        finally:
            await kernel.close()
        shown = "\n".join(outputs[user])
        assert "ERROR" not in shown, shown
        assert "application/vnd.kodisc.video+json" in outputs[user][1], outputs[user][1]
        assert " completed True" in outputs[user][2]
        left = "49 credits" if user == "alice" else "50 credits"  # bob's identical render was paid by alice's
        assert left in outputs[user][3] and left in outputs[user][4], outputs[user][3:5]
        assert len(token) >= 16 and token not in shown and sim_server.api_key not in shown
    assert "NOT FOUND" in outputs["bob"][-1], outputs["bob"][-1]
    assert sim_server.job_count() == before + 1  # one upstream render for the class
    assert sim_server.api_key not in hub.text()
    assert f"KODISC_BASE_URL=http://127.0.0.1:{hub.port}/services/kodisc/api/v2" in hub.text()


def test_an_unknown_hub_token_is_a_json_401_and_kodisc_paths_live_under_the_prefix(hub):
    answer = httpx.get(f"{hub.url}/services/kodisc/api/v2/me", headers={"Authorization": "token not-a-real-token"})
    assert answer.status_code == 401 and answer.json()["error"] == "unauthorized"
    bearer = httpx.get(f"{hub.url}/services/kodisc/api/v2/me", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert bearer.status_code == 403 and "access:services!service=kodisc" in bearer.json()["message"]

"""The real-browser harness: one JupyterLab on loopback and one headless Debian Chromium per session.

JupyterLab runs in its own process group with every Jupyter directory in a temporary folder, so a
test never touches the developer's settings, and its kernels inherit a temporary KODISC_HOME and no
Kodisc key: they use the embedded local server, the product's default. Each test gets a fresh
browser context; a screenshot of every page is written to `test-artifacts/screenshots/` at the
repository root so a person can look at what the browser showed.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from lab_driver import kernel_env, screenshot

CHROMIUM = Path("/usr/lib/chromium/chromium")
EXPECT_TIMEOUT_MS = 30_000
LAB_START_TIMEOUT_S = 60


@dataclass
class Lab:
    """A running JupyterLab (or Jupyter Notebook 7: `app="notebook"`): where it listens, its token and
    the folder it serves."""

    url: str
    token: str
    root: Path
    kodisc_home: Path
    app: str = "lab"

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"token {self.token}"}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def copy_notebook(self, source: Path, stem: str | None = None) -> Path:
        """A uniquely named copy in the served folder: reopening a path would reuse its kernel."""
        target = self.root / f"{stem or source.stem}-{uuid.uuid4().hex[:8]}.ipynb"
        shutil.copyfile(source, target)
        return target

    def notebook_url(self, notebook: Path) -> str:
        relative = notebook.relative_to(self.root).as_posix()
        if self.app == "notebook":
            return f"{self.url}/notebooks/{relative}?token={self.token}"
        return f"{self.url}/lab/tree/{relative}?reset&token={self.token}"

    def shutdown_sessions(self) -> None:
        for session in self.api("GET", "/api/sessions").json():
            self.api("DELETE", f"/api/sessions/{session['id']}")


def _write_lab_settings(settings_dir: Path) -> None:
    """No windowing (off-screen cells stay in the DOM) and no news/update toasts over the page."""
    tracker = settings_dir / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    notices = settings_dir / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    for path, value in (
        (tracker, {"windowingMode": "none"}),
        (notices, {"fetchNews": "false", "checkForUpdates": False}),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))


@pytest.fixture(scope="session")
def e2e_tmp(tmp_path_factory) -> Path:
    """One folder for the whole session (Jupyter dirs, browser profile, notebooks), TMPDIR included."""
    root = tmp_path_factory.mktemp("e2e")
    (root / "tmp").mkdir()
    return root


def _wait_for_port_file(runtime: Path, process: subprocess.Popen, log: Path) -> str:
    deadline = time.monotonic() + LAB_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        for info in runtime.glob(f"jpserver-{process.pid}.json"):
            try:
                return json.loads(info.read_text())["url"].rstrip("/")
            except (json.JSONDecodeError, KeyError):
                pass  # written but not complete yet
        time.sleep(0.2)
    raise RuntimeError(f"JupyterLab wrote no server info within {LAB_START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def _wait_until_ready(lab: Lab, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if lab.api("GET", "/api/status").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("JupyterLab did not answer /api/status in time")


@pytest.fixture(scope="session")
def lab(e2e_tmp) -> Iterator[Lab]:
    """JupyterLab on a free loopback port, killed with its kernels (its process group) at the end."""
    yield from _serve(e2e_tmp, "lab")


@pytest.fixture(scope="session")
def notebook7(e2e_tmp) -> Iterator[Lab]:
    """Jupyter Notebook 7 on a free loopback port, set up and torn down as `lab` is."""
    yield from _serve(e2e_tmp, "notebook")


def _serve(e2e_tmp: Path, app: str) -> Iterator[Lab]:
    base = e2e_tmp / app
    dirs = {name: base / "jupyter" / name.lower() for name in (
        "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "IPYTHONDIR",
        "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR")}
    for path in dirs.values():
        path.mkdir(parents=True)
    _write_lab_settings(dirs["JUPYTERLAB_SETTINGS_DIR"])
    root = base / "notebooks"
    root.mkdir()
    kodisc_home = base / "kodisc-home"
    kodisc_home.mkdir()
    env = kernel_env(e2e_tmp / "tmp", kodisc_home)
    env.update({name: str(path) for name, path in dirs.items()}, JUPYTER_PLATFORM_DIRS="1")
    token = secrets.token_hex(16)
    log = base / f"{app}.log"
    app_class = "LabApp" if app == "lab" else "JupyterNotebookApp"
    command = [
        sys.executable, "-m", "jupyter", app, "--no-browser", "--allow-root", "--ip=127.0.0.1",
        "--port=0", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}", f"--{app_class}.expose_app_in_browser=True",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        url = _wait_for_port_file(dirs["JUPYTER_RUNTIME_DIR"], process, log)
        running = Lab(url=url, token=token, root=root, kodisc_home=kodisc_home, app=app)
        _wait_until_ready(running, time.monotonic() + LAB_START_TIMEOUT_S)
        yield running
    finally:
        _kill_group(process)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def browser(e2e_tmp):
    """Debian's Chromium, headless; a missing binary fails the suite and says how to install it.

    Module-scoped on purpose: while Playwright's sync API runs, the main thread has a running
    event loop, so `asyncio.run()` (and anything built on it) fails in tests collected later."""
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make browser-deps` (as root) to install it.",
                    pytrace=False)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--disable-gpu"], headless=True,
            env={**os.environ, "TMPDIR": str(e2e_tmp / "tmp")},
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser context and page; a screenshot of it is written at teardown."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    screenshot(tab, request.node.name)
    context.close()

"""Driving a notebook in JupyterLab through `window.jupyterapp` (exposed by the harness).

Commands are fired, never awaited inside `page.evaluate`: `notebook:run-all-cells` resolves only
when every cell is done, which would hide the live updates the tests sample.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
KEY_VARIABLES = ("KODISC_API_KEY", "KODISC_KEY", "KODISC_BASE_URL", "VSCODE_PID", "VSCODE_CWD")  # nor seen as a VS Code kernel

KERNEL_STATUS_JS = """() => {
  const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = widget && widget.sessionContext && widget.sessionContext.session
    && widget.sessionContext.session.kernel;
  return kernel ? kernel.status : null;
}"""
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def kernel_env(tmp: Path, kodisc_home: Path) -> dict[str, str]:
    """The environment of a kernel under test: its own KODISC_HOME and TMPDIR, no Kodisc key."""
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARIABLES}
    env.update(KODISC_HOME=str(kodisc_home), TMPDIR=str(tmp), PYTHONUNBUFFERED="1")
    return env


def open_notebook(page, lab, notebook: Path, *, wait_for_kernel: bool = True) -> None:
    """Open in Lab and wait until the notebook is drawn (and, if asked, its kernel is idle)."""
    page.goto(lab.notebook_url(notebook))
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached")
    if wait_for_kernel:
        page.wait_for_function(f"() => ({KERNEL_STATUS_JS})() === 'idle'")


def run_all_cells(page) -> None:
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


def save_notebook(page, notebook: Path) -> None:
    """Save through Lab and wait until the file on disk carries outputs."""
    before = notebook.stat().st_mtime_ns
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    deadline = time.monotonic() + 30
    while notebook.stat().st_mtime_ns == before:
        if time.monotonic() > deadline:
            raise AssertionError(f"{notebook.name} was not saved within 30 s")
        time.sleep(0.1)


def make_notebook(path: Path, sources: list[str]) -> Path:
    """A python3 notebook (kernelspec set, so Lab shows no kernel dialog) with one code cell per source."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(notebook, path)
    return path


def append_cells(path: Path, sources: list[str]) -> None:
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata.setdefault("kernelspec", dict(KERNELSPEC))
    notebook.cells.extend(nbformat.v4.new_code_cell(source) for source in sources)
    nbformat.write(notebook, path)


def screenshot(page, name: str) -> Path:
    """Full-page PNG in test-artifacts/screenshots/ (the name made filesystem-safe)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    try:
        page.screenshot(path=str(path), full_page=True)
    except Exception as error:  # a closed or crashed page must not hide the test's own failure
        print(f"screenshot {name} failed: {error}")
    return path

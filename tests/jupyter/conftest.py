"""Fixtures for the notebook tests: run cells on a real kernel (nbclient) with a chosen environment.

The kernel gets its own KODISC_HOME and, unless a test wants the embedded default, the base URL
and key of the session's simulated server, so renders go over real loopback HTTP.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from nbrun import KERNEL_SPEC, kernel_env


@pytest.fixture
def run_cells(tmp_path) -> Callable[..., Any]:
    """`run_cells(sources, server=..., timeout_func=None, env=None)` -> the executed notebook (errors allowed);
    `env` adds variables to the kernel's environment (VSCODE_PID makes it a VS Code kernel).

    The notebook lives in tmp_path/work (the kernel's working directory); KODISC_HOME is
    tmp_path/home, shared by every call of one test (a "kernel restart" is a second call).
    """
    from nbclient import NotebookClient

    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)

    def run(sources: list[str], *, server: Any | None = None, timeout: int = 60,
            timeout_func: Callable[[Any], int] | None = None, name: str = "test.ipynb",
            env: dict[str, str] | None = None) -> Any:
        notebook = new_notebook(metadata=KERNEL_SPEC)
        notebook.cells = [new_code_cell(source) for source in sources]
        client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                                record_timing=True, interrupt_on_timeout=timeout_func is not None,
                                timeout_func=timeout_func, resources={"metadata": {"path": str(work)}})
        client.execute(env={**kernel_env(home, server), **(env or {})})
        nbformat.write(notebook, work / name)
        return notebook

    run.work = work
    run.home = home
    return run

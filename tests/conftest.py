"""Fixtures shared by every test area.

Every test runs with its own KODISC_HOME and without any Kodisc key or base URL from the
developer's environment (nor VS Code's variables), so a test never reads or writes real credentials or history.
"""
from __future__ import annotations

import pytest

FRONTEND_VARIABLES = ("VSCODE_PID", "VSCODE_CWD")  # a test run from VS Code's terminal must not look like VS Code


@pytest.fixture(autouse=True)
def isolated_kodisc_env(tmp_path, monkeypatch):
    home = tmp_path / "kodisc-home"
    home.mkdir()
    monkeypatch.setenv("KODISC_HOME", str(home))
    for name in ("KODISC_API_KEY", "KODISC_KEY", "KODISC_BASE_URL", "JUPYTERHUB_API_TOKEN", *FRONTEND_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="session")
def sim_server(tmp_path_factory):
    """One local Kodisc for the session with the simulated renderer (no Manim; jobs take ~0.3 s).

    Jobs take their duration and outcome from `metadata={"simulate": {"seconds": 2, "fail": True}}`.
    Use `sim_server.create_user(credits=...)` for a second user, `job_count()` to prove no POST.
    """
    from kodisc_jupyter.server import start_local_server

    with start_local_server(tmp_path_factory.mktemp("sim-server"), renderer="simulate", workers=8) as server:
        yield server


@pytest.fixture(scope="session")
def manim_server(tmp_path_factory):
    """One local Kodisc for the session rendering with real Manim, two renders at a time."""
    from kodisc_jupyter.server import start_local_server

    with start_local_server(tmp_path_factory.mktemp("manim-server"), renderer="manim", workers=2) as server:
        yield server

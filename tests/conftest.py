"""Fixtures shared by every test area.

Every test runs with its own KODISC_HOME and without any Kodisc key or base URL from the
developer's environment, so a test never reads or writes real credentials or history.
"""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_kodisc_env(tmp_path, monkeypatch):
    home = tmp_path / "kodisc-home"
    home.mkdir()
    monkeypatch.setenv("KODISC_HOME", str(home))
    for name in ("KODISC_API_KEY", "KODISC_KEY", "KODISC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return home

"""`make demo`'s script fails with one actionable line when Manim cannot load (its success path is
exercised by test_player_contexts.py, which runs it for real)."""
from __future__ import annotations

import subprocess
import sys

import pytest
from lab_driver import REPO, kernel_env

pytestmark = pytest.mark.e2e


def test_demo_says_to_install_system_libraries_when_manim_cannot_load(tmp_path):
    broken = tmp_path / "site" / "manim"
    broken.mkdir(parents=True)
    # What importing Manim looks like without Cairo/Pango: pycairo's extension cannot find its library.
    (broken / "__init__.py").write_text(
        "raise ImportError('libcairo.so.2: cannot open shared object file: No such file or directory')\n")
    env = kernel_env(tmp_path, tmp_path / "home")
    env["PYTHONPATH"] = str(broken.parent)
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "demo.py"), "--build-dir", str(tmp_path / "build")],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "make system-deps" in lines[0] and "libcairo" in lines[0], done.stderr
    assert not (tmp_path / "build").exists(), "nothing is written when the demo cannot run"

"""Terminal IPython (no widget frontend): the status is plain text lines and failures are one line."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nbrun import kernel_env, scene, simulate

SCRIPT = '''
%load_ext kodisc_jupyter
ip = get_ipython()
ip.run_cell({good!r})
ip.run_cell({bad!r})
print("after the failure")
'''


def test_terminal_ipython_shows_clean_text(tmp_path, sim_server):
    good = f"%%kodisc -ql {simulate(0.3)}\n{scene('Terminal')}"
    bad = f"%%kodisc -ql {simulate(0.2, fail='ZeroDivisionError: division by zero')}\n{scene('Broken')}"
    script = tmp_path / "session.ipy"
    script.write_text(SCRIPT.format(good=good, bad=bad))
    ipython = Path(sys.executable).with_name("ipython")
    done = subprocess.run([str(ipython), "--simple-prompt", "--no-banner", "--colors=nocolor", str(script)],
                          cwd=tmp_path, env=kernel_env(tmp_path / "home", sim_server), capture_output=True,
                          text=True, timeout=120)
    out = done.stdout + done.stderr
    lines = out.splitlines()
    assert any(line.startswith("Kodisc · Terminal: queued · ") for line in lines), out
    assert any(line.startswith("Kodisc · Terminal: completed · ") for line in lines), out
    assert any(line.startswith("▶ Terminal · rendered in ") for line in lines), out
    assert any(line.strip().startswith("video: ") and line.strip().endswith("video.mp4") for line in lines), out
    assert [line for line in lines if line.startswith("Kodisc: Broken failed to render")] != [], out
    assert "after the failure" in lines
    for noise in ("<div", "<video", "Traceback", "IPython.core.display", "application/vnd.jupyter", "Widget"):
        assert noise not in out, noise
    assert sim_server.api_key not in out
    assert not (tmp_path / "kodisc_media").exists(), "a terminal has no player: nothing is copied beside it"

"""The player extension is installed with the package: `jupyter labextension list` shows it enabled
and OK, and its bundle renders our mime type (checked in a browser by test_untrusted_reopen.py)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kodisc_jupyter.jupyter.player import PLAYER_MIME

pytestmark = pytest.mark.e2e


def test_labextension_list_shows_it_enabled_and_ok():
    done = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True,
                          text=True, timeout=120)
    listing = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    line = next((row for row in listing.splitlines() if row.strip().startswith("kodisc-jupyter ")), None)
    assert line and "enabled" in line and "OK" in line, f"kodisc-jupyter is not enabled and OK:\n{listing}"


def test_the_built_bundle_registers_our_mime_type():
    from jupyter_core.paths import jupyter_path

    found = [Path(folder) / "kodisc-jupyter" for folder in jupyter_path("labextensions")
             if (Path(folder) / "kodisc-jupyter" / "package.json").is_file()]
    assert found, "no kodisc-jupyter labextension in any Jupyter data path"
    package = json.loads((found[0] / "package.json").read_text())
    assert package["jupyterlab"]["mimeExtension"] is True and package["jupyterlab"]["_build"]["load"]
    bundle = "".join(path.read_text() for path in (found[0] / "static").glob("*.js"))
    assert PLAYER_MIME in bundle, "the built bundle does not register application/vnd.kodisc.video+json"

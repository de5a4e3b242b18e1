"""Which frontend shows this kernel's outputs: the facts the player and the status bar decide on.

A kernel cannot ask its frontend who it is, so these are the common heuristics (plotly's renderer
choice uses the same): Colab's shell module is loaded in Colab kernels, and VS Code starts kernels
with `VSCODE_PID` / `VSCODE_CWD` in their environment. Both frontends need the video embedded:
Colab draws each output in an iframe of its own origin, and VS Code's webview cannot load a
relative file (vscode-jupyter #7422). Colab also refuses display outputs over about 10 MB
(colabtools #21), and VS Code's webview has no AAC decoder (vscode #156558).
"""
from __future__ import annotations

import os
import sys

__all__ = ["COLAB", "VSCODE", "JUPYTER", "COLAB_OUTPUT_MAX_MB", "current", "in_colab", "in_vscode",
           "frontend_has_widgets"]

COLAB, VSCODE, JUPYTER = "colab", "vscode", "jupyter"
COLAB_OUTPUT_MAX_MB = 10.0  # per display output, as stored: base64 video, poster and captions included


def in_colab() -> bool:
    return "google.colab" in sys.modules


def in_vscode() -> bool:
    """Also true for a kernel started from VS Code's terminal (e.g. `jupyter lab` typed there):
    then the video is embedded where linking would do, which costs notebook size, never playback."""
    return bool(os.environ.get("VSCODE_PID") or os.environ.get("VSCODE_CWD"))


def current() -> str:
    """COLAB, VSCODE or JUPYTER (any other Jupyter frontend: JupyterLab, Notebook 7, nbclient)."""
    if in_colab():
        return COLAB
    return VSCODE if in_vscode() else JUPYTER


def frontend_has_widgets() -> bool:
    """True in a Jupyter kernel (widgets render); False in terminal IPython or plain Python.

    A subclass counts: Colab's shell is `google.colab._shell.Shell`, and other kernels subclass too."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from ipykernel.zmqshell import ZMQInteractiveShell
        from IPython import get_ipython
    except ImportError:
        return False
    return isinstance(get_ipython(), ZMQInteractiveShell)

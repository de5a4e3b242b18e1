"""kodisc-jupyter: Manim videos from a notebook, through Kodisc or a local Kodisc-compatible server.

Public names are loaded lazily so that `%load_ext kodisc_jupyter` stays cheap: httpx,
ipywidgets and the server are imported only when first used.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

_LAZY = {
    "Kodisc": "kodisc_jupyter.client",
    "AsyncKodisc": "kodisc_jupyter.client",
    "Job": "kodisc_jupyter.client",
    "RenderResult": "kodisc_jupyter.client",
    "RenderProgress": "kodisc_jupyter.client",
    "Account": "kodisc_jupyter.client",
    "Credits": "kodisc_jupyter.client",
    "render": "kodisc_jupyter.jupyter.result",
    "Rendered": "kodisc_jupyter.jupyter.result",
    "Panel": "kodisc_jupyter.jupyter.panel",
    "start_local_server": "kodisc_jupyter.server",
}

__all__ = [
    "Account", "AsyncKodisc", "Credits", "Job", "Kodisc", "Panel", "RenderProgress", "RenderResult", "Rendered",
    "__version__", "load_ipython_extension", "render", "start_local_server", "unload_ipython_extension",
]

if TYPE_CHECKING:
    from .client import Account, AsyncKodisc, Credits, Job, Kodisc, RenderProgress, RenderResult
    from .jupyter.panel import Panel
    from .jupyter.result import Rendered, render
    from .server import start_local_server


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kodisc_jupyter' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext kodisc_jupyter`: register the magics (idempotent)."""
    from .jupyter.magic import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """`%unload_ext kodisc_jupyter`: remove the magics and stop background work."""
    from .jupyter.magic import unload_ipython_extension as unload

    unload(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the prebuilt player extension is, for `jupyter labextension develop` (pip installs it itself)."""
    return [{"src": "labextension", "dest": "kodisc-jupyter"}]

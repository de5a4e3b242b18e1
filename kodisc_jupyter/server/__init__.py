"""A local Kodisc: the v2 render API on your machine, rendering with real Manim in subprocesses.

`start_local_server()` runs it in a background thread (the notebook's embedded default);
`python -m kodisc_jupyter serve` runs it in the foreground. Names load lazily so the render
subprocess, which imports `kodisc_jupyter.server._render_job`, does not pay for Starlette.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["LocalServer", "ServerOptions", "start_local_server", "Credentials"]

if TYPE_CHECKING:
    from ._local import LocalServer, start_local_server
    from ._options import ServerOptions
    from ._store import Credentials


def __getattr__(name: str) -> Any:
    if name in ("LocalServer", "start_local_server"):
        from . import _local

        return getattr(_local, name)
    if name == "ServerOptions":
        from ._options import ServerOptions

        return ServerOptions
    if name == "Credentials":
        from ._store import Credentials

        return Credentials
    raise AttributeError(f"module 'kodisc_jupyter.server' has no attribute {name!r}")

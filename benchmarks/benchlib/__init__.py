"""What every benchmark shares: a throw-away local server, kernels with an isolated environment, tables.

Benchmarks run as scripts (`python benchmarks/p2_rerun.py`), which puts benchmarks/ on sys.path,
so they import this package as `benchlib`. Nothing here asserts: benchmarks measure and print.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import statistics
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

KEY_VARIABLES = ("KODISC_API_KEY", "KODISC_KEY", "KODISC_BASE_URL")
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """One Markdown table (pastes as-is into docs/benchmarks.md)."""
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    line = lambda row: "| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)) + " |"  # noqa: E731
    print(f"\n{title}\n")
    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print(line(row))
    print(flush=True)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    """A temporary folder removed at the end (pass KEEP_BENCH_DIRS=1 to keep it for a look)."""
    path = Path(tempfile.mkdtemp(prefix=f"kodisc-bench-{prefix}-"))
    try:
        yield path
    finally:
        if os.environ.get("KEEP_BENCH_DIRS"):
            print(f"(kept {path})")
        else:
            shutil.rmtree(path, ignore_errors=True)


def kernel_env(kodisc_home: Path, server=None) -> dict[str, str]:
    """A kernel environment with its own KODISC_HOME; pointed at `server` (a LocalServer) if given."""
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARIABLES}
    env["KODISC_HOME"] = str(kodisc_home)
    if server is not None:
        env.update(KODISC_BASE_URL=server.base_url, KODISC_API_KEY=server.api_key)
    return env


def new_notebook(sources: Sequence[str]):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    return notebook


def execute(notebook, *, env: dict[str, str], cwd: Path, timeout: int = 600):
    """Run every cell with nbclient on a fresh python3 kernel; stops at the first failing cell."""
    import logging

    from nbclient import NotebookClient

    quiet = logging.getLogger("benchlib.nbclient")
    quiet.setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="kodisc-bench-ipc-") as sockets:
        client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", log=quiet,
                                config=ipc_config(Path(sockets)), resources={"metadata": {"path": str(cwd)}},
                                record_timing=True)
        client.execute(env=env)
    return notebook


def ipc_config(folder: Path):
    """Kernel sockets as IPC files in `folder`: no TCP ports and no "unencrypted TCP" warnings."""
    from traitlets.config import Config

    return Config(KernelManager={"transport": "ipc", "ip": str(folder / ".kernel-ipc")})


def cell_seconds(cell) -> float:
    """Wall time of one executed cell, from nbclient's recorded timestamps."""
    timing = cell.metadata["execution"]
    start = _parse(timing["iopub.execute_input"])
    end = _parse(timing["shell.execute_reply"])
    return (end - start).total_seconds()


def _parse(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def credits_total(server) -> float:
    """The server's first user's balance, from GET /me with our own client."""
    from kodisc_jupyter import Kodisc

    with Kodisc(server.api_key, base_url=server.base_url) as client:
        return client.me().credits.total

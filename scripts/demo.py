"""`make demo`: execute notebooks/quickstart.ipynb on the embedded local server and export it to HTML.

The notebook is copied into build/ and run there (the kernel's working directory is build/, so any
media written beside the notebook lands next to the HTML). No Kodisc key is used: keys are removed
from the kernel's environment and the backend is pinned to `local`. KODISC_HOME is left as it is
(the user's default data dir unless set), so the demo's renders appear in the user's history.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "notebooks" / "quickstart.ipynb"
KEY_VARIABLES = ("KODISC_API_KEY", "KODISC_KEY", "KODISC_BASE_URL")


class DemoError(Exception):
    """A one-line, actionable reason the demo cannot run."""


def check_manim() -> None:
    try:
        import manim  # noqa: F401  (Manim loads cairo and pango at import time)
    except ModuleNotFoundError as error:
        if error.name == "manim":
            raise DemoError("Manim is not installed in this environment: run `make demo` "
                            "(or `pip install -e '.[server]'`).") from None
        raise DemoError(f"Manim cannot load ({error}): run `make system-deps` (as root).") from None
    except (ImportError, OSError) as error:
        raise DemoError(f"Manim's system libraries are missing ({error}): "
                        "run `make system-deps` (as root).") from None


def kernel_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in KEY_VARIABLES}


def _quiet_logger() -> logging.Logger:
    """nbclient's own INFO lines would bury the two lines the demo prints."""
    logger = logging.getLogger("kodisc_demo.nbclient")
    logger.setLevel(logging.WARNING)
    return logger


def execute(notebook_path: Path, timeout: int):
    """Run every cell with nbclient in notebook_path's folder; returns the executed notebook."""
    import nbformat
    from nbclient import NotebookClient
    from traitlets.config import Config

    notebook = nbformat.read(notebook_path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="kodisc-demo-") as sockets:
        # IPC sockets in a private folder: no TCP ports, and no "unencrypted TCP" warning to scare people.
        config = Config(KernelManager={"transport": "ipc", "ip": str(Path(sockets) / "kernel")})
        client = NotebookClient(
            notebook, timeout=timeout, kernel_name="python3", config=config, log=_quiet_logger(),
            resources={"metadata": {"path": str(notebook_path.parent)}},
            extra_arguments=["--Kodisc.backend=local"],
            # Without saved widget state nbconvert shows each widget's own HTML snapshot (the panel's
            # balance and jobs as they were); with it, the HTML would need a widget CDN to draw anything.
            store_widget_state=False,
        )
        _run(client, notebook, notebook_path)
    return notebook


def _run(client, notebook, notebook_path: Path) -> None:
    import nbformat
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    try:
        client.execute(env=kernel_environment())
    except NoSuchKernel:
        raise DemoError("no `python3` Jupyter kernel in this environment: run `make demo` "
                        "(it installs ipykernel into .venv).") from None
    except CellTimeoutError:
        nbformat.write(notebook, notebook_path)
        raise DemoError(f"a cell ran longer than {client.timeout} s; the partial notebook is {notebook_path}") from None
    except CellExecutionError as error:
        nbformat.write(notebook, notebook_path)
        summary = f"{error.ename}: {error.evalue}".strip().splitlines()[0]
        raise DemoError(f"the quickstart failed ({summary}); see {notebook_path}") from None
    nbformat.write(notebook, notebook_path)


def export_html(notebook, html_path: Path) -> None:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(notebook)
    html_path.write_text(body, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, default=REPO / "build",
                        help="where the executed notebook and its HTML go (default: build/)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default 600)")
    args = parser.parse_args(argv)
    try:
        if not SOURCE.exists():
            raise DemoError(f"{SOURCE} is missing: run the demo from a complete clone of the repository.")
        check_manim()
        build = args.build_dir.resolve()
        build.mkdir(parents=True, exist_ok=True)
        executed = build / SOURCE.name
        shutil.copyfile(SOURCE, executed)
        print(f"Executing {SOURCE.relative_to(REPO)} in {build} on the embedded local server ...", flush=True)
        started = time.monotonic()
        notebook = execute(executed, args.timeout)
        html = executed.with_suffix(".html")
        export_html(notebook, html)
    except DemoError as error:
        print(f"make demo: {error}", file=sys.stderr)
        return 1
    print(f"Done in {time.monotonic() - started:.0f} s. Executed notebook: {executed}")
    print(f"Open the result in a browser: {html.as_uri()}")
    print(f"  (for example: python3 -m webbrowser {html})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

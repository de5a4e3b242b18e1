"""`%%kodisc`, `%%kodisc_prelude` and `%kodisc_resume`: render Manim scenes from notebook cells.

`Kodisc` is both the Magics class and a traitlets `Configurable`, so `%config Kodisc.quality =
"low"` (and `--Kodisc.backend=local` on the kernel command line) set its defaults; a
`[tool.kodisc]` table in the nearest pyproject.toml sets them too, below `%config`.

Loading declares the magics and their options and imports only IPython, traitlets and the option
parsers (`cells/options`); what a magic does is loaded when it first runs (`cell_run`, and through
it the render core, the contract, the client; the server and ipywidgets later still). The session
opens on first use too; `%unload_ext` closes it.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class

from ..cells import options as cell_options
from ..cells.options import CellOptions, KodiscSettings, apply_pyproject_defaults
from .display import CellError, notice_bundle, show

__all__ = ["Kodisc", "load_ipython_extension", "unload_ipython_extension"]


def _parse(parser: argparse.ArgumentParser, line: str) -> argparse.Namespace:
    """A magic's options; a bad option fails the cell like any render error (an error output, so papermill stops)."""
    try:
        return cell_options.parse(parser, line)
    except cell_options.OptionsError as exc:
        raise CellError(str(exc)) from None


def _options_help(parser: Any) -> Any:
    """Make `%%magic?` show the parser's help, as IPython's magic_arguments does."""
    def decorate(func: Any) -> Any:
        func.__doc__ = parser.format_help()
        return func
    return decorate


@magics_class
class Kodisc(Magics, KodiscSettings):
    """Render Manim scenes through Kodisc, or locally with the embedded server when no key is set."""

    def __init__(self, shell: Any) -> None:
        KodiscSettings.__init__(self, config=shell.config)
        Magics.__init__(self, shell=shell)
        self.prelude = ""
        self._apply_pyproject_defaults()

    # -- %%kodisc ---------------------------------------------------------------------------------

    @_options_help(cell_options.RENDER)
    @cell_magic
    def kodisc(self, line: str, cell: str) -> None:
        """Render the Scene in this cell and show it with a live status bar, then the player."""
        from .cell_run import render_cell

        render_cell(self, CellOptions.from_namespace(_parse(cell_options.RENDER, line)), cell)

    # -- %%kodisc_prelude ------------------------------------------------------------------------

    @_options_help(cell_options.PRELUDE)
    @line_cell_magic
    def kodisc_prelude(self, line: str, cell: str | None = None) -> None:
        """As a cell magic: code put in front of every later render (imports, styles). `--clear` drops it."""
        args = _parse(cell_options.PRELUDE, line)
        if args.clear:
            self.prelude = ""
            show(notice_bundle("Kodisc prelude cleared."))
        elif cell is not None:
            import ast

            try:
                ast.parse(cell)
            except SyntaxError as exc:
                raise CellError(f"the prelude does not parse: line {exc.lineno}: {exc.msg}; it was not changed.") from None
            self.prelude = cell
            count = len(cell.strip().splitlines())
            show(notice_bundle(f"Kodisc prelude set ({count} line{'' if count == 1 else 's'}): "
                               "it is sent in front of every render."))
        elif self.prelude.strip():
            show({"text/plain": self.prelude})
        else:
            show(notice_bundle("No Kodisc prelude (set one with %%kodisc_prelude)."))

    # -- %kodisc_resume ---------------------------------------------------------------------------

    @_options_help(cell_options.RESUME)
    @line_magic
    def kodisc_resume(self, line: str) -> None:
        """Re-attach the status bar and player to a job, also after a kernel restart."""
        from .cell_run import resume_job

        parsed = _parse(cell_options.RESUME, line)
        resume_job(self, parsed.job_id, CellOptions.from_namespace(parsed))

    # -- helpers --------------------------------------------------------------------------------

    def _apply_pyproject_defaults(self) -> None:
        """`[tool.kodisc]` of the nearest pyproject.toml, unless `%config`/the command line set the trait."""
        apply_pyproject_defaults(self, Path.cwd(), self.config.get("Kodisc", {}))


_loaded: dict[int, Kodisc] = {}  # id(shell) -> the registered magics, so loading twice is harmless


def load_ipython_extension(ipython: Any) -> None:
    """Register `Kodisc` (and the account magics) once per shell; `%config Kodisc.*` finds it."""
    if id(ipython) in _loaded:
        return
    from .account_magics import AccountMagics

    magics = Kodisc(ipython)
    ipython.register_magics(magics)
    ipython.register_magics(AccountMagics)  # IPython also adds both to shell.configurables (%config)
    _loaded[id(ipython)] = magics


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics, forget `%config Kodisc`, and close the session (worker, embedded server, history)."""
    magics = _loaded.pop(id(ipython), None)
    if magics is None:
        return
    from .account_magics import AccountMagics

    registered = ipython.magics_manager.magics
    for instance in (magics, ipython.magics_manager.registry.get(AccountMagics.__name__)):
        if instance is None:
            continue
        for kind, names in instance.magics.items():
            for name in names:
                registered[kind].pop(name, None)
        ipython.magics_manager.registry.pop(type(instance).__name__, None)
        while instance in ipython.configurables:
            ipython.configurables.remove(instance)
    from ..rendering import session

    session.close_current()  # if a magic opened it: the worker, the embedded server, the history

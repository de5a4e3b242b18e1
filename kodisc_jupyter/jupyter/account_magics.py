"""The account magics: `%kodisc_panel`, `%kodisc_credits`, `%kodisc_jobs`, `%kodisc_login`, `%kodisc_logout`.

They follow the render magic's backend choice (`%config Kodisc.backend`) and report problems as
one-line `UsageError`s, so a notebook run unattended stops on them without a traceback. Loading
declares them only: each loads what it needs (the backend, the views, the client) when it first runs.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .._argtypes import positive_int
from .._choices import STATUS_CHOICES

_KEY_IN_CELL = ("%kodisc_login takes no argument: a key typed in a cell is saved in the notebook and its history. "
                "Run %kodisc_login alone and paste the key at the prompt.")
_ENV_KEYS = ("KODISC_API_KEY", "KODISC_KEY")


@contextmanager
def _usage_errors() -> Iterator[None]:
    """A Kodisc error as one `UsageError` line, its advice in the notebook's words."""
    from ..errors import KodiscError
    from ..rendering.backend import NOTEBOOK

    try:
        yield
    except KodiscError as exc:
        raise UsageError(NOTEBOOK.say(exc)) from None


@magics_class
class AccountMagics(Magics):
    """Balance, past jobs and the saved key, from a notebook."""

    _panel: Any = None  # the newest %kodisc_panel: only it follows job changes

    def _backend(self) -> Any:
        from ..rendering.backend import resolve_backend

        render_magics = self.shell.magics_manager.registry.get("Kodisc") if self.shell else None
        with _usage_errors():
            return resolve_backend(getattr(render_magics, "backend", "auto"))

    @magic_arguments()
    @argument("-n", "--page-size", type=positive_int, default=10, help="jobs per page (default 10)")
    @argument("--status", choices=STATUS_CHOICES, default="all", help="show only jobs with this status")
    @line_magic
    def kodisc_panel(self, line: str) -> None:
        """Show the account panel: balance, credits spent, and past jobs with their players."""
        from IPython.display import display

        from .panel import Panel

        args = parse_argstring(self.kodisc_panel, line)
        backend = self._backend()
        with _usage_errors():
            panel = Panel(backend, page_size=args.page_size)
        if args.status != "all":
            panel.set_status(args.status)
        if self._panel is not None:  # a re-run cell must not leave a trail of refreshing panels and open clients
            self._panel.release()
        self._panel = panel
        display(panel)

    @line_magic
    def kodisc_credits(self, line: str) -> None:
        """Print the balance in one line: total, paid, free, the key's prefix and the backend."""
        from ..rendering.views import balance_line

        if line.strip():
            raise UsageError("%kodisc_credits takes no argument.")
        backend = self._backend()
        with _usage_errors(), backend.client() as client:
            account = client.me()
        print(balance_line(account, backend.label))

    @magic_arguments()
    @argument("-n", "--limit", type=positive_int, default=20, help="how many jobs, newest first (default 20)")
    @argument("--status", choices=STATUS_CHOICES, default="all", help="show only jobs with this status")
    @line_magic
    def kodisc_jobs(self, line: str) -> None:
        """Show past jobs from the local history (the Kodisc API cannot list jobs) as a table."""
        from IPython.display import display

        from ..rendering.history import History
        from ..rendering.views import jobs_text
        from .history_html import jobs_html, thumbnail_data_url

        args = parse_argstring(self.kodisc_jobs, line)
        status = None if args.status == "all" else args.status
        history = History()
        try:
            records = history.list(limit=args.limit, status=status)
            total = history.count(status)
        finally:
            history.close()
        thumbnails = {r.job_id: url for r in records if (url := thumbnail_data_url(r.thumbnail_path))}
        display({"text/plain": jobs_text(records, total=total, status=status),
                 "text/html": jobs_html(records, total=total, thumbnails=thumbnails, status=status)}, raw=True)

    @line_magic
    def kodisc_login(self, line: str) -> None:
        """Ask for a Kodisc API key (hidden input), check it with Kodisc, then save it for later sessions."""
        import getpass

        from ..client import KEY_RE, Kodisc, key_prefix
        from ..credentials import save_key
        from ..errors import AuthenticationError, KodiscError
        from ..rendering.views import format_credits

        if line.strip():
            raise UsageError(_KEY_IN_CELL)
        key = getpass.getpass("Kodisc API key (input hidden): ").strip()
        if not key:
            raise UsageError("No key entered; nothing was saved.")
        if not KEY_RE.fullmatch(key):
            raise UsageError("That is not a Kodisc API key (kdsc_live_ followed by 48 hex characters); nothing was saved.")
        try:
            with Kodisc(key) as client:
                account = client.me()
        except AuthenticationError:
            raise UsageError(f"Kodisc rejected the key {key_prefix(key)} (401: revoked or unknown); nothing was saved.") from None
        except KodiscError as exc:
            raise UsageError(f"Could not check the key with Kodisc, nothing was saved: {exc}") from None
        save_key(key)
        print(f"Logged in: renders now use the key {account.key_prefix} ({format_credits(account.credits.total)} credits).")
        overriding = [name for name in _ENV_KEYS if os.environ.get(name)]
        if overriding:
            print(f"Note: {overriding[0]} is set in the environment and takes precedence over the saved key.")

    @line_magic
    def kodisc_logout(self, line: str) -> None:
        """Forget the saved Kodisc key (a key set in the environment is not touched)."""
        from ..credentials import forget_key

        if line.strip():
            raise UsageError("%kodisc_logout takes no argument.")
        removed = forget_key()
        print("Logged out: the saved Kodisc key was removed." if removed else "No saved Kodisc key to remove.")
        overriding = [name for name in _ENV_KEYS if os.environ.get(name)]
        if overriding:
            print(f"Note: {overriding[0]} is still set in the environment, so renders keep using it.")

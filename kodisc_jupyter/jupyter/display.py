"""Small output pieces of the render magic: notices, error blocks and the cell-failing exception.

Every bundle carries `text/plain` and `text/html` (escaped), so a terminal, nbconvert and GitHub
show the same truth. `CellError` makes a cell fail with one short line instead of a traceback:
IPython (and so nbconvert --execute and papermill) prints `_render_traceback_()` verbatim.
"""
from __future__ import annotations

import html
from typing import Any

__all__ = ["CellError", "notice_bundle", "error_bundle", "show"]


class CellError(Exception):
    """Fails the cell with one actionable line and no traceback."""

    def _render_traceback_(self) -> list[str]:
        text = str(self)
        return [text if text.startswith("Kodisc") else f"Kodisc: {text}"]


def notice_bundle(text: str, *, kind: str = "notice") -> dict[str, Any]:
    """One line of information (a backend notice, a pre-flight warning, a cache or size note)."""
    return {"text/plain": text,
            "text/html": f'<div class="kodisc-{kind}" style="opacity:0.8;font-size:90%">{html.escape(text, quote=True)}</div>'}


def error_bundle(title: str, detail: str | None = None) -> dict[str, Any]:
    """A failure shown where the status bar was: a short title and, if any, the scene's error text."""
    plain = title if not detail else f"{title}\n{detail}"
    body = f"<strong>{html.escape(title, quote=True)}</strong>"
    if detail:
        body += (f'<pre style="white-space:pre-wrap;margin:0.4em 0 0">{html.escape(detail, quote=True)}</pre>')
    style = "border-left:4px solid #d9534f;padding:0.4em 0.8em;background:rgba(217,83,79,0.08)"
    return {"text/plain": plain, "text/html": f'<div class="kodisc-error" style="{style}">{body}</div>'}


def show(bundle: dict[str, Any]) -> None:
    from IPython.display import display

    display(bundle, raw=True)

"""`kodisc_jupyter.sphinx`: put the videos a notebook's players link into the built site.

A linked player is `<video src="kodisc_media/Scene-1a2b3c4d.mp4">`, relative to the notebook.
myst-nb and nbsphinx copy that HTML into the page but not the file, so every video of the site
is dead. This extension reads each written page's body for the media elements' relative URLs
(`<video src|poster>`, `<source src>`, `<track src>`) and copies each file from beside the
source document to where the page's URL resolves it, so the site plays from any web server and
from file://, offline. Files outside the source folder are never copied.

    extensions = ["myst_nb", "kodisc_jupyter.sphinx"]   # or "nbsphinx"
"""
from __future__ import annotations

import posixpath
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sphinx.util.logging import getLogger as sphinx_logger
from sphinx.util.osutil import copyfile

from ._version import __version__

__all__ = ["setup", "media_references"]

logger = sphinx_logger(__name__)

_MEDIA_ATTRIBUTES = {"video": ("src", "poster"), "audio": ("src",), "source": ("src",), "track": ("src",)}


class _MediaParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = _MEDIA_ATTRIBUTES.get(tag, ())
        self.found += [value for name, value in attrs if name in wanted and value]


def media_references(html: str) -> list[str]:
    """The relative paths (decoded, without query or fragment) that media elements of `html` load."""
    parser = _MediaParser()
    parser.feed(html)
    parser.close()
    paths = []
    for url in parser.found:
        parts = urlsplit(url.strip())
        if parts.scheme or parts.netloc or not parts.path or parts.path.startswith("/"):
            continue  # data:, https:, //host and site-absolute URLs are not files beside the notebook
        path = unquote(parts.path)
        if path not in paths:
            paths.append(path)
    return paths


def _copy_media(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    body = context.get("body") or ""
    if doctree is None or "<" not in body:
        return
    source_dir = Path(app.env.doc2path(pagename)).parent.resolve()
    srcdir = Path(app.srcdir).resolve()
    outdir = Path(app.outdir).resolve()
    uri = app.builder.get_target_uri(pagename)
    page_dir = outdir / (uri if uri.endswith("/") else posixpath.dirname(uri))
    for reference in media_references(body):
        source = (source_dir / reference).resolve()
        target = (page_dir / reference).resolve()
        if not source.is_relative_to(srcdir) or not target.is_relative_to(outdir):
            logger.warning("kodisc: %s links %s, outside the documentation folder: not copied", pagename, reference,
                           location=pagename)
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            copyfile(source, target)
        elif not target.is_file():
            logger.warning("kodisc: %s links %s, which does not exist: execute the notebook again "
                           "(or `kodisc render` it) before building", pagename, reference, location=pagename)


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", _copy_media)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}

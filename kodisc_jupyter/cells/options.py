"""What a `%%kodisc` cell asks for, without IPython: its options, the `Kodisc` settings, the request.

The magic and `kodisc render NOTEBOOK.ipynb` both build their render requests here, from one
parser per magic, one set of settings (`%config Kodisc.*`, then `[tool.kodisc]`, then the
defaults) and one `render_request()`, so a pre-rendered cell and the executed cell share a cache key.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from traitlets import Bool, Enum, Float, Unicode
from traitlets.config import Configurable

from .._argtypes import identifier, positive_seconds, webhook_url
from .._choices import ASPECT_RATIOS, BACKEND_CHOICES, DEFAULT_ASPECT_RATIO, DEFAULT_QUALITY, QUALITIES
from .manim_flags import QUALITY_HELP, add_manim_flags, frame_rate, quality

if TYPE_CHECKING:
    from ..rendering.pipeline import RenderRequest
    from ..rendering.preflight import NotebookCode

__all__ = ["OptionsError", "RENDER", "PRELUDE", "RESUME", "parse", "CellOptions", "KodiscSettings",
           "pyproject_table", "apply_pyproject_defaults", "render_request"]


class OptionsError(ValueError):
    """A magic's options line is wrong; the message is one line naming how to see the options."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing and exiting (as IPython's magic parsers do)."""

    def __init__(self, prog: str, description: str) -> None:
        super().__init__(prog=prog, description=description, add_help=False)

    def error(self, message: str) -> NoReturn:
        from .._redact import redact

        raise OptionsError(f"{redact(message)} (options: {self.prog}?)")  # a value may be a pasted key


def _metadata(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"must be JSON, e.g. '{{\"lesson\": 3}}' ({exc})") from None


def _render_parser() -> _Parser:
    parser = _Parser("%%kodisc", "Render the Scene in this cell and show it with a live status bar, then the player.")
    add = parser.add_argument
    add("class_name", nargs="?", default=None,
        help="the Scene subclass to render (optional when the cell defines exactly one)")
    add("-q", "--quality", type=quality, default=None, metavar="QUALITY",
        help=f"{QUALITY_HELP} (default: %%config Kodisc.quality)")
    add("--aspect", choices=ASPECT_RATIOS, default=None, help="16:9 (landscape) or 9:16 (portrait)")
    add("--fps", "--frame_rate", dest="fps", type=frame_rate, default=None, metavar="FPS",
        help="frames per second (default: the quality's)")
    add("-s", "--save_last_frame", action="store_true", help="show the last frame as a PNG instead of the video (as Manim's -s)")
    add("--metadata", type=_metadata, default=None, help="JSON echoed back on the job")
    add("--webhook-url", type=webhook_url, default=None, help="https URL notified when the job ends")
    add("--no-wait", action="store_true", help="return at once; the output updates when the job ends")
    add("--embed", action="store_true", default=None, help="put the video itself in the notebook")
    add("--force", "--disable_caching", dest="force", action="store_true",
        help="render again even if an identical render is cached")
    add("--timeout", type=positive_seconds, default=None, help="seconds to wait before giving up waiting")
    add("--out", type=identifier, default=None, help="bind the result (a Rendered object) to this name")
    add("--show-code", action="store_true",
        help="show the exact code a render would send (the cell with the notebook's definitions it uses); send nothing")
    add_manim_flags(parser)
    return parser


def _prelude_parser() -> _Parser:
    parser = _Parser("%%kodisc_prelude", "As a cell magic: code put in front of every later render (imports, styles). "
                                         "`--clear` drops it.")
    parser.add_argument("--clear", action="store_true", help="drop the prelude")
    return parser


def _resume_parser() -> _Parser:
    parser = _Parser("%kodisc_resume", "Re-attach the status bar and player to a job, also after a kernel restart.")
    add = parser.add_argument
    add("job_id", help="the job to pick up again (shown when a wait was stopped; see %%kodisc_jobs)")
    add("--embed", action="store_true", default=None, help="put the video itself in the notebook")
    add("--timeout", type=positive_seconds, default=None, help="seconds to wait before giving up waiting")
    add("--out", type=identifier, default=None, help="bind the result (a Rendered object) to this name")
    return parser


RENDER = _render_parser()
PRELUDE = _prelude_parser()
RESUME = _resume_parser()


@dataclasses.dataclass(frozen=True)
class CellOptions:
    """What one `%%kodisc` (or `%kodisc_resume`) line asks for, read once: the magic changes nothing in it,
    it derives a new value (`dataclasses.replace`), e.g. with the player settings of the cell's config lines."""

    class_name: str | None = None
    quality: str | None = None  # None: the settings' (%config Kodisc.quality, [tool.kodisc])
    aspect: str | None = None
    fps: int | None = None
    save_last_frame: bool = False
    metadata: Any = None
    webhook_url: str | None = None
    no_wait: bool = False
    embed: bool | None = None
    force: bool = False
    timeout: float | None = None
    out: str | None = None
    width: str | None = None  # the player's width from the cell's `config.media_width` (None: the settings')
    show_code: bool = False  # show the code a render would send, and send nothing

    @classmethod
    def from_namespace(cls, parsed: argparse.Namespace) -> CellOptions:
        """The options `parse()` read with RENDER or RESUME; Manim's terminal-only flags (and the job id) stay out."""
        given = vars(parsed)
        return cls(**{name: given[name] for name in _OPTION_NAMES if name in given})


_OPTION_NAMES = tuple(item.name for item in dataclasses.fields(CellOptions))


def parse(parser: argparse.ArgumentParser, line: str) -> argparse.Namespace:
    """A magic's options with POSIX shell quoting (IPython's own splitter keeps the quotes)."""
    try:
        words = shlex.split(line)
    except ValueError as exc:  # an unclosed quote
        raise OptionsError(f"cannot parse the options ({exc}); check the quotes.") from None
    return parser.parse_args(words)


class KodiscSettings(Configurable):
    """The defaults of `%%kodisc` (`%config Kodisc.*`; the magic is this class under the name Kodisc)."""

    backend = Enum(BACKEND_CHOICES, default_value="auto",
                   help="auto: Kodisc when a key is configured, else the embedded local server").tag(config=True)
    quality = Enum(tuple(QUALITIES), default_value=DEFAULT_QUALITY, help="default render quality").tag(config=True)
    aspect = Enum(ASPECT_RATIOS, default_value=DEFAULT_ASPECT_RATIO, help="default aspect ratio").tag(config=True)
    embed = Bool(False, help="embed videos in the notebook (data: URLs) instead of linking kodisc_media/ "
                 "(always on in Colab and VS Code, which cannot play a linked file)").tag(config=True)
    embed_max_mb = Float(20.0, help="videos larger than this are linked even when embedding").tag(config=True)
    colab_max_mb = Float(10.0, help="Colab refuses larger display outputs: above this (as stored, base64 included) "
                         "a video plays from Kodisc's CDN, or a local render says where its file is").tag(config=True)
    timeout = Float(None, allow_none=True, help="seconds a cell waits for a job (None: no limit)").tag(config=True)
    width = Unicode("", help="player width: pixels or a CSS length, e.g. 640 or '80%' (default: the cell, at most 720px)"
                    ).tag(config=True)


def apply_pyproject_defaults(settings: KodiscSettings, folder: Path, configured: Any = ()) -> None:
    """`[tool.kodisc]` of the nearest pyproject.toml, except the settings named in `configured`."""
    table = pyproject_table(folder)
    for name, value in table.items():
        if name not in settings.trait_names(config=True):
            print(f"Kodisc: ignoring unknown [tool.kodisc] setting {name!r}.", file=sys.stderr)
        elif name not in configured:
            try:
                setattr(settings, name, value)
            except Exception as exc:  # a TraitError: a bad value in the file
                print(f"Kodisc: ignoring [tool.kodisc] {name} = {value!r} ({exc}).", file=sys.stderr)


def pyproject_table(start: Path) -> dict[str, Any]:
    """The `[tool.kodisc]` table of the pyproject.toml nearest to `start` (upwards), or {}. The TOML
    parser is loaded only when there is a file to read (`%load_ext` in most notebook folders has none)."""
    candidate = next((found for folder in (start, *start.parents)
                      if (found := folder / "pyproject.toml").is_file()), None)
    if candidate is None:
        return {}
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef, import-not-found, unused-ignore]
        except ImportError:
            return {}
    try:
        with candidate.open("rb") as file:
            table = tomllib.load(file).get("tool", {}).get("kodisc", {})
    except (OSError, ValueError) as exc:
        print(f"Kodisc: cannot read {candidate} ({exc}); using defaults.", file=sys.stderr)
        return {}
    return table if isinstance(table, dict) else {}


def render_request(args: CellOptions, settings: KodiscSettings, code: str, prelude: str,
                   notebook: NotebookCode | None = None) -> RenderRequest:
    """The request a `%%kodisc` cell with options `args` sends, given the settings and prelude in force
    and the notebook's definitions it uses."""
    from ..rendering.pipeline import RenderRequest

    return RenderRequest(
        code=code, class_name=args.class_name, quality=args.quality or settings.quality,
        aspect_ratio=args.aspect or settings.aspect, fps=args.fps, metadata=args.metadata,
        webhook_url=args.webhook_url, force=args.force,
        timeout=args.timeout if args.timeout is not None else settings.timeout, prelude=prelude, notebook=notebook)

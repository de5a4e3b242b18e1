"""Manim's own render flags on a `%%kodisc` line, so a `%%manim` cell works when only the magic's name changes.

Spelled as Manim spells them: those that mean something for a Kodisc render map onto the request
(`-qm`/`-q m`, `--frame_rate`, `--disable_caching`, `-s`: `cells/options` declares them beside their
Kodisc twins with the converters below), those that only steer Manim's terminal are accepted
(`-v WARNING`, `-p`), and those Kodisc cannot honour fail with one line naming the nearest thing
it offers (`add_manim_flags`).
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from .._argtypes import fps, positive_int
from .._choices import MANIM_QUALITY_LETTERS, QUALITIES

__all__ = ["VERBOSITY_LEVELS", "QUALITY_HELP", "add_manim_flags", "frame_rate", "quality"]

#: Manim's `-v/--verbosity` choices.
VERBOSITY_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LETTERS = "|".join(MANIM_QUALITY_LETTERS)
_NAMES = "|".join(QUALITIES)
QUALITY_HELP = f"{_LETTERS} (Manim's -ql, -q m, ...) or {_NAMES}"

# Manim flags with no Kodisc counterpart: (option strings, takes a value, what to do instead).
_REFUSED: tuple[tuple[tuple[str, ...], bool, str], ...] = (
    (("-t", "--transparent"), False,
     "Kodisc renders opaque MP4 video; nearest: a background colour (config.background_color = ...)"),
    (("-r", "--resolution"), True,
     f"Kodisc renders fixed sizes; nearest: -q {_LETTERS} (854x480 to 3840x2160) and --aspect 9:16 for portrait"),
    (("-n", "--from_animation_number"), True,
     "Kodisc renders the whole scene; nearest: a Scene holding only the animations to show"),
    (("-a", "--write_all"), False, "Kodisc renders one scene per cell; nearest: name the scene (%%kodisc MyScene)"),
    (("-o", "--output_file"), True, "nearest: --out NAME, then NAME.save('file.mp4')"),
    (("--media_dir",), True, "videos go to kodisc_media/ beside the notebook; nearest: --out NAME, then NAME.save(path)"),
    (("-c", "--config_file"), True,
     "a render cannot read your files; nearest: config.X = ... lines at the top of the cell, or %%kodisc_prelude"),
    (("--renderer",), True, "Kodisc renders with Manim's default (Cairo) renderer; nearest: leave the flag out"),
    (("-l", "--live-preview"), False, "nearest: the status bar follows the render, and the video plays when it ends"),
    (("--save_sections",), False, "Kodisc returns one video per scene; nearest: one Scene per section"),
)
_FORMATS = ("auto", "mp4", "png", "gif", "webm", "mov", "png-sequence", "none")


def quality(text: str) -> str:
    """A quality by its API name (`medium`) or Manim's letter (`m`, as in `-qm`)."""
    value = text.strip().lower()
    if value in QUALITIES:
        return value
    if value in MANIM_QUALITY_LETTERS:
        return MANIM_QUALITY_LETTERS[value]
    raise argparse.ArgumentTypeError(f"expected one of {_LETTERS} or {_NAMES}, got {text!r}")


def frame_rate(text: str) -> int:
    """Manim takes any number; Kodisc takes whole frames per second, so 30.0 is 30 and 29.97 is refused."""
    try:
        value = float(text)
    except ValueError:
        return positive_int(text)  # its wording for what is no number at all
    if not value.is_integer():
        raise argparse.ArgumentTypeError(f"Kodisc takes a whole number of frames per second, got {text}")
    return fps(str(int(value)))


def _verbosity(text: str) -> str:
    return text.upper()


class _Refused(argparse.Action):
    """A Manim flag Kodisc cannot honour: parsing stops with one line naming the nearest option."""

    def __init__(self, option_strings: Sequence[str], dest: str, nearest: str = "", **kwargs: Any) -> None:
        self.nearest = nearest
        super().__init__(option_strings, dest, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        raise argparse.ArgumentError(self, f"Manim's {option_string} is not available on Kodisc: {self.nearest}")


class _Format(argparse.Action):
    """Manim's `--format`: mp4 is what Kodisc renders, png is `-s`; the rest are refused."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        chosen = str(values).lower()
        if chosen == "png":
            namespace.save_last_frame = True
        elif chosen not in ("auto", "mp4"):
            raise argparse.ArgumentError(self, f"Kodisc renders MP4 video, not {chosen}; nearest: leave the flag "
                                               "out for the video, or -s for its last frame as a PNG")


def add_manim_flags(parser: argparse.ArgumentParser) -> None:
    """Manim's flags that have no Kodisc twin: accepted when they only steer Manim's terminal, refused otherwise."""
    manim = parser.add_argument_group("Manim's flags that only steer Manim's terminal (accepted, no effect)")
    manim.add_argument("-v", "--verbosity", type=_verbosity, choices=VERBOSITY_LEVELS, default=None, metavar="LEVEL",
                       help="Manim's log level; a notebook shows no render log")
    manim.add_argument("-p", "--preview", action="store_true", help="the notebook always shows the result")
    manim.add_argument("--progress_bar", choices=("display", "leave", "none"), type=str.lower, default=None,
                       help="the status bar shows the progress")
    refused = parser.add_argument_group("Manim's flags Kodisc cannot honour (the error names the nearest option)")
    refused.add_argument("--format", action=_Format, metavar="FORMAT", choices=_FORMATS, type=str.lower,
                         default=argparse.SUPPRESS, help="mp4 (what Kodisc renders) and png (as -s) only")
    for flags, takes_value, nearest in _REFUSED:
        refused.add_argument(*flags, action=_Refused, nearest=nearest, nargs=None if takes_value else 0,
                             metavar="VALUE" if takes_value else None, help=nearest.replace("%", "%%"))

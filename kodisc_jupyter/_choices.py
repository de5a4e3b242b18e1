"""The fixed choices a user types (qualities, aspect ratios, frame rates, statuses, backends), importing nothing.

The contract owns their meaning (`contract._rules` re-exports them beside the rules that use
them); they live here, alone, so that `%load_ext` can declare the magics' options and
`%config Kodisc.*` traits without loading the contract (P4 in docs/benchmarks.md).
"""
from __future__ import annotations

__all__ = ["QUALITIES", "ASPECT_RATIOS", "MANIM_QUALITY_LETTERS", "DEFAULT_QUALITY", "DEFAULT_ASPECT_RATIO",
           "MIN_FPS", "MAX_FPS", "STATUSES", "STATUS_CHOICES", "BACKEND_CHOICES"]

#: quality name -> (width, height, default fps), landscape; `9:16` swaps width and height.
QUALITIES: dict[str, tuple[int, int, int]] = {
    "low": (854, 480, 15),
    "medium": (1280, 720, 30),
    "high": (1920, 1080, 30),
    "twok": (2560, 1440, 30),
    "fourk": (3840, 2160, 30),
}
ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16")
#: Manim's own `-q` letters for each quality (`manim -qm`), accepted wherever a quality is typed.
MANIM_QUALITY_LETTERS: dict[str, str] = {"l": "low", "m": "medium", "h": "high", "p": "twok", "k": "fourk"}
DEFAULT_QUALITY = "medium"
DEFAULT_ASPECT_RATIO = "16:9"
#: The frame rates we accept (Kodisc documents no maximum; above 240 nothing plays the result anyway).
MIN_FPS, MAX_FPS = 1, 240
STATUSES: tuple[str, ...] = ("queued", "running", "completed", "failed")
#: What the job lists filter by: a status, or every job.
STATUS_CHOICES = ("all", *STATUSES)
#: auto: Kodisc when a key is configured, else the embedded local server; cloud and local force one.
BACKEND_CHOICES = ("auto", "cloud", "local")

"""TeX for Manim's MathTex, Tex, axis numbers and the like: where it is installed, and what it said when it failed.

Manim runs `latex` and `dvisvgm` by name. A render's PATH is fixed (see `_sandbox.render_env`), so the
server finds TeX itself where it is usually installed: on the server's own PATH, Debian's packages in
/usr/bin, a TeX Live under /usr/local/texlive/YEAR/bin/ARCH, or TinyTeX in ~/.TinyTeX. A sandboxed
render sees that installation read-only, and nothing else of the home it may live in.

A failed TeX run leaves its log in the job's folder, where nobody can read it after the job, and
Manim's error only names it: `tex_error_message` turns it into TeX's own words.
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["TexInstall", "find_tex", "tex_error_message", "no_tex_message", "TEX_PROGRAMS", "DEBIAN_TEX_PACKAGES",
           "TEX_INSTALL"]

#: The programs Manim runs for TeX (its default template: latex to DVI, dvisvgm to SVG).
TEX_PROGRAMS = ("latex", "dvisvgm")
#: What Manim's gallery needs on Debian/Ubuntu (also in scripts/system-deps.sh): about 740 MB.
DEBIAN_TEX_PACKAGES = ("texlive-latex-base", "texlive-latex-extra", "texlive-fonts-recommended", "texlive-science",
                       "dvisvgm", "cm-super", "tipa")
#: The install line every message about a missing TeX gives (as root).
TEX_INSTALL = f"apt-get install --no-install-recommends {' '.join(DEBIAN_TEX_PACKAGES)}"
#: TeX's own search paths, passed to a render when the server has them set.
TEX_VARIABLES = ("TEXINPUTS", "TEXMFHOME", "TEXMFCNF")


@dataclass(frozen=True)
class TexInstall:
    """Where TeX's programs are (`path`: directories for the render's PATH), what a sandbox must bind
    read-only for them to run (`binds`), and TeX's variables to pass on (`env`). `missing` names the
    programs found nowhere (Manim's TeX works only when it is empty)."""

    path: tuple[str, ...] = ()
    binds: tuple[Path, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    missing: tuple[str, ...] = ()


def _candidate_dirs() -> list[Path]:
    """Where TeX usually is, most specific first: the server's PATH, then the usual installations."""
    dirs = [Path(entry) for entry in os.environ.get("PATH", "").split(os.pathsep) if entry.startswith("/")]
    dirs += sorted(Path("/usr/local/texlive").glob("*/bin/*"), reverse=True)  # the newest year first
    dirs += sorted((Path.home() / ".TinyTeX").glob("bin/*"))
    dirs += [Path("/usr/bin")]
    return dirs


def find_tex() -> TexInstall:
    """The TeX a render can use here (see the module's docstring); looked up anew each call (cheap)."""
    found: dict[str, Path] = {}
    for directory in _candidate_dirs():
        for program in TEX_PROGRAMS:
            where = shutil.which(program, path=str(directory)) if program not in found else None
            if where:  # the program's own folder: a ~/bin symlink must not bring ~/bin along
                found[program] = Path(where).resolve().parent
    path = tuple(dict.fromkeys(str(directory) for directory in found.values()))
    binds = {_installation_root(directory) for directory in found.values()}
    env = {name: os.environ[name] for name in TEX_VARIABLES if os.environ.get(name)}
    for value in env.values():  # a path list (`:`), entries ending in `//` search below them
        binds.update(Path(entry.rstrip("/")) for entry in value.split(os.pathsep) if entry.startswith("/"))
    missing = tuple(program for program in TEX_PROGRAMS if program not in found)
    return TexInstall(path, tuple(sorted(p for p in binds if p.is_dir())), env, missing)


def no_tex_message(missing: tuple[str, ...]) -> str:
    """A server's one line for a missing TeX: a job's error, and `kodisc serve`'s notice at start."""
    return (f"LaTeX is not installed where this server renders ({' and '.join(missing)} not found): scenes with "
            f"MathTex, Tex, axis numbers or DecimalNumber fail; its operator can install it (on Debian/Ubuntu, as "
            f"root: {TEX_INSTALL}); Kodisc renders them as they are.")


def _installation_root(bin_dir: Path) -> Path:
    """What must be visible for TeX in `bin_dir` to run: its whole TeX Live tree (bin/ARCH's grandparent,
    which holds texmf-dist), or the directory itself for a system PATH entry (/usr/bin: /usr is bound)."""
    root = bin_dir.parent.parent
    if bin_dir.parent.name == "bin" and (root / "texmf-dist").is_dir():
        return root
    return bin_dir


# -- what TeX said ------------------------------------------------------------------------------------

_LOG_IN_MESSAGE = re.compile(r"error converting to \w+\. See log output above or the log file: (?P<log>\S+\.log)")
_SPECIAL = re.compile(r"\\special\s*(?:\{dvisvgm:[^}]*\}?|\.\.\.$)")  # Manim's markers for parts of a MathTex
_CUT_SPECIAL = re.compile(r"^\.\.\.[^\\]*\}")  # one TeX cut at the front: "...isvgm:raw <g id='unique000'>}"
_TEMPLATE_LINE = re.compile(r"\\(?:begin|end)\{[^}]*\}")
_CONTEXT_START = re.compile(r"^(?:l\.\d+|<argument>|<recently read>|<to be read again>)\s?")
_MISSING_FILE = re.compile(r"File `([^']+)' not found")


def tex_error_message(exc: BaseException, folder: Path) -> str | None:
    """TeX's own error for a failed MathTex/Tex (`! Undefined control sequence. at "\\alpah", before
    "+ \\beta"`), read from the log Manim's exception names, in the render's `folder`; None for any
    other exception. A missing `latex` says that TeX is not installed where the server renders."""
    if isinstance(exc, FileNotFoundError) and exc.filename in TEX_PROGRAMS:
        return no_tex_message((exc.filename,))
    match = _LOG_IN_MESSAGE.search(str(exc)) if isinstance(exc, ValueError) else None
    if match is None:
        return None
    log = Path(match["log"])
    log = log if log.is_absolute() else folder / log
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    errors = [index for index, line in enumerate(lines) if line.startswith("!")]
    if not errors:
        return None
    first = errors[0]
    message = f"LaTeX failed on the scene's TeX: {lines[first].strip()}"
    context = _context(lines[first + 1:errors[1] if len(errors) > 1 else None])
    if context:
        message += f" {context}"
    missing = _MISSING_FILE.search(lines[first])
    if missing:
        message += f" (a TeX package is not installed: install the one providing {missing[1]})"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more TeX error{'s' if len(errors) > 2 else ''})"
    return message


def _context(lines: list[str]) -> str:
    """Where TeX stopped: each context line pair is the text up to the error and the text after it; the
    first pair with text of the user's (not Manim's template lines or its part markers) is shown."""
    for index, line in enumerate(lines):
        head = _CONTEXT_START.match(line)
        if head is None or line.startswith("<inserted text>"):
            continue
        before = _clean(line[head.end():])
        after = _clean(lines[index + 1]) if index + 1 < len(lines) else ""
        if before and not _TEMPLATE_LINE.fullmatch(before):
            return f'at "{before}"' + (f', before "{after}"' if after else "")
    return ""


def _clean(text: str) -> str:
    text = _CUT_SPECIAL.sub("", _SPECIAL.sub("", text)).strip()
    text = text.removeprefix("...").strip()
    return text if len(text) <= 60 else "..." + text[-57:]

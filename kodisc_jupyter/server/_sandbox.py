"""How a render process is confined: bubblewrap (`bwrap`) where it runs, an allowlisted environment always.

Scene code is hostile. Under bwrap a render sees the system, this interpreter and TeX (see `_tex`)
read-only, the embedded server's `scene_files` folder read-only too (the notebook's own), one
writable folder (mounted at `/job`) holding only its own scene and outputs, no network, its own
PID namespace (killing the outer `bwrap` ends every process the scene started, detached ones
too, and no scene can signal the server) and no capabilities. Of Python it sees this interpreter,
its installed packages (the prefixes' folders) and this package's own folder, never the working
directory or another `sys.path` entry that is not an installed location (a checkout's `.env`
beside the package stays out). The data dir, `KODISC_HOME` and the server's home are never
mounted (they are covered with an empty read-only tmpfs when a needed directory contains them).
/tmp and /dev/shm are tmpfs of `TMP_BYTES` each (memory the render's cgroup counts, where it has
one). Without bwrap a render runs as the server's user; the caller decides whether that is
allowed (see `_renderers.ManimRenderer`).
"""
from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import site
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ._tex import find_tex

#: The job's folder as the sandboxed render sees it.
JOB_MOUNT = "/job"
#: What Manim, fonts and LaTeX need from the server's environment; nothing else passes.
_PASSED_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")
_SYSTEM_DIRS = ("/usr", "/etc/fonts", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
                "/etc/alternatives", "/etc/texmf", "/etc/localtime", "/var/lib/texmf", "/var/cache/fontconfig",
                "/opt")
_MERGED_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
#: The interpreter renders run: `..` resolved by name, since the sandbox binds the prefixes, not a folder a
#: relative launch went through (`cd benchmarks && ../.venv/bin/python`: Python keeps that `..` in
#: sys.executable); not `realpath`, which would leave the venv.
INTERPRETER = os.path.abspath(sys.executable)
#: The size of the render's /tmp and of its /dev/shm (each a tmpfs: memory, not disk).
TMP_BYTES = 512 * 1024**2
#: The worker's heap (glibc's malloc; set for the worker only, not for bwrap): blocks up to 32 MiB come from
#: the heap, freed memory stays in it, and every block comes zero-filled. Each animation opens its own x264
#: encoder, which allocates ~200 MB at 1080p; as fresh pages from the kernel that costs the clearing of each
#: page (a -qh lesson's system time: 3.0 CPU-s before, 0.8 after, for the same user time; docs/benchmarks.md,
#: P8). Zero-filled, because x264 reads memory it never wrote (benchmarks/x264_heap.py): reused as the last
#: encoder left it, the video could change. One arena: an encoder's thread then reuses what the last one freed.
HEAP_TUNABLES = ":".join(("glibc.malloc.mmap_threshold=33554432", "glibc.malloc.trim_threshold=68719476736",
                          "glibc.malloc.perturb=255", "glibc.malloc.arena_max=1"))


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> str | None:
    """None when bwrap can build our sandbox here, else why not (one line); probed once per process."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed; on Debian/Ubuntu: apt-get install bubblewrap"
    try:
        probe = subprocess.run([*_bwrap_flags(bwrap), "--ro-bind", "/", "/", "true"], capture_output=True,
                               timeout=10, text=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bwrap could not run ({type(exc).__name__})"
    if probe.returncode != 0:
        detail = (probe.stderr.strip().splitlines() or ["no message"])[-1]
        return f"bwrap cannot create a sandbox here ({detail}); user namespaces may be disabled"
    return None


def _bwrap_flags(bwrap: str) -> list[str]:
    return [bwrap, "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--disable-userns"]


def sandboxed(argv: list[str], folder: Path, env: dict[str, str], *, hidden: list[Path],
              readable: Sequence[Path] = ()) -> list[str]:
    """`argv` wrapped in bwrap, with `folder` writable at /job, TeX and `readable` read-only, `hidden` never visible."""
    command = _bwrap_flags(shutil.which("bwrap") or "bwrap")
    # An empty /tmp first: the binds below may lie under /tmp (a venv or checkout there) and must
    # stay visible on top of it, while everything else in /tmp (other renders) stays out of sight.
    tmp_size = ["--size", str(TMP_BYTES)]
    command += ["--proc", "/proc", "--dev", "/dev", *tmp_size, "--tmpfs", "/dev/shm", *tmp_size, "--tmpfs", "/tmp"]
    for name in _MERGED_DIRS:  # /lib -> usr/lib on merged-/usr systems: recreate the link
        path = Path(name)
        if path.is_symlink():
            command += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            command += ["--ro-bind", name, name]
    command += _read_only_mounts([Path(p) for p in _SYSTEM_DIRS] + _interpreter_paths() + [*find_tex().binds, *readable],
                                 hidden)
    command += ["--bind", str(folder), JOB_MOUNT, "--chdir", JOB_MOUNT, "--clearenv"]
    for name, value in env.items():
        command += ["--setenv", name, value]
    return command + ["--", *argv]


def _interpreter_paths() -> list[Path]:
    """This interpreter, its venv and installed packages, and this package's own folder: nothing else of sys.path
    (not the working directory a `python -m` put first, nor a checkout an editable install or PYTHONPATH adds)."""
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    installed = {Path(p).resolve() for p in site.getsitepackages()} | prefixes
    paths = {*prefixes, _PACKAGE_ROOT / "kodisc_jupyter", Path(os.path.realpath(sys.executable)).parent}
    for entry in filter(None, sys.path):
        path = Path(entry).resolve()
        if any(path.is_relative_to(place) for place in installed):
            paths.add(path)
    return sorted(paths)


def _read_only_mounts(paths: list[Path], hidden: list[Path]) -> list[str]:
    """Read-only binds, shallowest first; a hidden dir inside one is covered by a tmpfs, its needed children rebound."""
    binds = sorted({p for p in paths if p.exists()}, key=lambda p: len(p.parts))
    args: list[str] = []
    for path in binds:
        args += ["--ro-bind", str(path), str(path)]
    for secret in (h.resolve() for h in hidden):
        if any(secret.is_relative_to(path) for path in binds):
            args += ["--tmpfs", str(secret)]
            for path in binds:
                if path != secret and path.is_relative_to(secret):
                    args += ["--ro-bind", str(path), str(path)]
            args += ["--remount-ro", str(secret)]  # after the binds inside it made their mount points
    return args


def render_env(folder: str) -> dict[str, str]:
    """The render's whole environment: an allowlist, with home, caches and temp files in its own folder."""
    env = {name: os.environ[name] for name in _PASSED_VARIABLES if os.environ.get(name)}
    env["PYTHONPATH"] = str(_PACKAGE_ROOT)  # the one sys.path entry the render needs that is not installed
    tex = find_tex()  # TeX Live or TinyTeX outside /usr/bin, with the server's TEXINPUTS etc.
    env.update(tex.env)
    path = [os.path.dirname(INTERPRETER), *tex.path, "/usr/local/bin", "/usr/bin", "/bin"]
    env.update(PATH=os.pathsep.join(dict.fromkeys(path)),
               HOME=folder, TMPDIR=f"{folder}/tmp", XDG_CACHE_HOME=f"{folder}/.cache",
               MPLCONFIGDIR=f"{folder}/.cache", PYTHONDONTWRITEBYTECODE="1", PYTHONNOUSERSITE="1")
    return env


def kill_session(leader: int) -> None:
    """SIGKILL every process of the session `leader` started (unsandboxed renders; bwrap needs only the leader)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signal.SIGKILL)
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == leader:  # field 6 of /proc/PID/stat: the session id
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)

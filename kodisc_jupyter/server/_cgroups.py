"""A cgroup per render: memory (its /tmp included) and processes bounded for the whole render, not per process.

RLIMIT_AS is per process (three children take three times it) and tmpfs pages are not counted
by it; RLIMIT_NPROC is not enforced for root. A memory cgroup counts every process of the render
and the tmpfs pages they write, and a pids cgroup counts its processes whoever runs it. So each
render process starts inside its own group, made below the server's own (the limits nest inside
whatever confines the server), with the memory limit (swap included) and a process limit.

cgroup v2 is used where its `memory` and `pids` controllers can be enabled for our groups, else
cgroup v1's `memory` and `pids` hierarchies, else none (`cgroup_support()` says why, for the
start-up line). Probed once per process; a probe is a mkdir, two writes and an rmdir.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

_V1_CONTROLLERS = ("memory", "pids")
_counter = itertools.count()


@dataclass(frozen=True)
class CgroupSupport:
    """Where render groups are made: one parent per hierarchy (v2: one; v1: memory's and pids')."""

    version: str  # "v2" or "v1"
    parents: tuple[Path, ...]

    def describe(self) -> str:
        return f"cgroup {self.version}"


class RenderGroup:
    """One render's group(s); `wrap(argv)` starts a command inside them (no race: it joins before it execs)."""

    def __init__(self, support: CgroupSupport, *, memory: int, processes: int) -> None:
        self.support = support
        name = f"render-{os.getpid()}-{next(_counter)}"
        self.paths = [parent / name for parent in support.parents]
        try:
            for path in self.paths:
                path.mkdir()
            if support.version == "v2":
                _write(self.paths[0] / "memory.max", memory)
                _write_optional(self.paths[0] / "memory.swap.max", 0)
                _write(self.paths[0] / "pids.max", processes)
            else:
                memory_group, pids_group = self.paths
                _write(memory_group / "memory.limit_in_bytes", memory)
                _write_optional(memory_group / "memory.memsw.limit_in_bytes", memory)  # no swapping past it
                _write(pids_group / "pids.max", processes)
        except OSError:
            self.remove()
            raise

    def wrap(self, argv: list[str]) -> list[str]:
        """`argv` run by a shell that first moves itself into the groups, then execs it (with the environment it
    was given: the shell's own PWD is unset)."""
        joins = " && ".join(f'echo $$ > "${index + 1}"' for index in range(len(self.paths)))
        return ["/bin/sh", "-c", f'{joins} && shift {len(self.paths)} && unset PWD && exec "$@"', "sh",
                *(str(path / "cgroup.procs") for path in self.paths), *argv]

    def kill(self) -> None:
        """SIGKILL every process still in the group (whatever it forked, even outside any session)."""
        if self.support.version == "v2":
            with contextlib.suppress(OSError):
                _write(self.paths[0] / "cgroup.kill", 1)
                return
        for path in self.paths:
            with contextlib.suppress(OSError):
                for pid in (path / "cgroup.procs").read_text().split():
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(int(pid), signal.SIGKILL)

    def remove(self) -> None:
        """Kill what is left and remove the group(s); never raises (an undead group is left for the next probe)."""
        self.kill()
        for path in self.paths:
            for _ in range(50):  # a killed process leaves its group a moment after SIGKILL
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.002)

    def oom_kills(self) -> int:
        """How many of its processes the kernel killed for the group's memory limit."""
        name = "memory.events" if self.support.version == "v2" else "memory.oom_control"
        with contextlib.suppress(OSError, ValueError):
            for line in (self.paths[0] / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def peak_memory(self) -> int | None:
        """The most memory the render used (for tests and reports), if the kernel says."""
        name = "memory.peak" if self.support.version == "v2" else "memory.max_usage_in_bytes"
        with contextlib.suppress(OSError, ValueError):
            return int((self.paths[0] / name).read_text())
        return None


@functools.lru_cache(maxsize=1)
def cgroup_support() -> CgroupSupport | str:
    """How renders get a group here, or why they cannot (one line)."""
    problems = []
    for probe in (_v2_parent, _v1_parents):
        try:
            support = probe()
            RenderGroup(support, memory=64 * 1024**2, processes=8).remove()
            return support
        except OSError as exc:
            problems.append(f"{probe.__doc__}: {exc.strerror or exc}")
    return "; ".join(problems)


def _sweep(parent: Path) -> None:
    """Remove the groups of servers that are gone (a crash leaves its groups, empty once its renders died)."""
    for group in parent.glob("render-*-*"):
        pid = group.name.split("-")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(OSError):
                group.rmdir()


def _own_group(controller: str | None) -> str:
    """This process's group path in a hierarchy (`None`: the v2 one), from /proc/self/cgroup."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        number, controllers, path = line.split(":", 2)
        if (controller is None and number == "0") or (controller is not None and controller in controllers.split(",")):
            return path
    raise FileNotFoundError(2, f"no {controller or 'v2'} cgroup for this process")


def _mount_point(fstype: str, controller: str | None) -> Path:
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, where, kind, options = line.split()[:4]
        if kind == fstype and (controller is None or controller in options.split(",")):
            return Path(where)
    raise FileNotFoundError(2, f"no {fstype} {controller or ''} mount".replace("  ", " "))


def _v2_parent() -> CgroupSupport:
    """cgroup v2"""
    root = _mount_point("cgroup2", None)
    own = root / _own_group(None).lstrip("/")
    # a group holding processes cannot give controllers to children (v2's rule), except the root:
    # our groups go beside the server's, under a `kodisc` group of its parent (or of the root)
    base = own.parent if own != root else root
    wanted = {"memory", "pids"}
    if not wanted <= set((base / "cgroup.controllers").read_text().split()):
        raise OSError(0, "its memory and pids controllers are not available here (a v1 hierarchy has them)")
    _write(base / "cgroup.subtree_control", "+memory +pids")
    parent = base / "kodisc"
    parent.mkdir(exist_ok=True)
    _write(parent / "cgroup.subtree_control", "+memory +pids")
    _sweep(parent)
    return CgroupSupport("v2", (parent,))


def _v1_parents() -> CgroupSupport:
    """cgroup v1"""
    parents = []
    for controller in _V1_CONTROLLERS:
        parent = _mount_point("cgroup", controller) / _own_group(controller).lstrip("/") / "kodisc"
        parent.mkdir(exist_ok=True)
        _sweep(parent)
        parents.append(parent)
    return CgroupSupport("v1", tuple(parents))


def _write(path: Path, value: object) -> None:
    with open(path, "w") as handle:
        handle.write(str(value))


def _write_optional(path: Path, value: object) -> None:
    """A limit file that a kernel built without swap accounting lacks."""
    with contextlib.suppress(FileNotFoundError):
        _write(path, value)

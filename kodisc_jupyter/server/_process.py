"""A render worker: one `_render_job` process in its own folder, sandboxed by bwrap where it can.

Workers start with `subprocess.Popen`, not asyncio's subprocesses, so that one can start before
any event loop exists: one-shot `kodisc render` starts the embedded server's first worker before
it loads anything else (`prestart`), and the server adopts it. The server's loop then awaits a
worker without threads: its first byte on stdout (`started`) and its exit (a pidfd).
To keep that head start early this module loads only the standard library and `_sandbox`, and
asyncio (~50 ms) only in the methods that await: a loop runs by then, so it is loaded already.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .._paths import data_dir as kodisc_data_dir
from ._cgroups import CgroupSupport, RenderGroup, cgroup_support
from ._sandbox import HEAP_TUNABLES, INTERPRETER, JOB_MOUNT, TMP_BYTES, bwrap_problem, kill_session, render_env, sandboxed

DEFAULT_RENDER_TIMEOUT = 600.0
DEFAULT_MEMORY_LIMIT = 4 * 1024**3
#: What one job may write to its folder (`--max-job-mb`); no one file may grow past it either (RLIMIT_FSIZE).
DEFAULT_JOB_BYTES = 1024 * 1024**2
#: A render may run this many processes at once (its cgroup's pids.max; RLIMIT_NPROC beside it).
RENDER_PROCESSES = 256
#: How a pre-started worker's folder is named, in `renders_dir(data_dir)` (see `prestart`).
PRESTARTED_PREFIX = "prestarted-"


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker starts with but its folder; a server adopts a pre-started worker only if equal."""

    sandboxed: bool
    timeout: float = DEFAULT_RENDER_TIMEOUT
    memory_limit: int = DEFAULT_MEMORY_LIMIT
    hidden: tuple[Path, ...] = ()  # what a render must never see (data dir, homes)
    #: A folder every render may read and runs in (the embedded server's notebook folder; see `scene_files`).
    scene_files: Path | None = None
    job_bytes: int = DEFAULT_JOB_BYTES

    def limits(self) -> list[str]:
        """`_render_job`'s arguments: memory, CPU seconds, file size and process count (0: not set).

        In a cgroup, memory and processes are bounded for the whole render there; the per-process
        RLIMIT_AS and RLIMIT_NPROC would only add false failures (address space is not memory: thread
        stacks and libraries count; NPROC counts every thread of the server's user on the machine)."""
        whole = isinstance(cgroup_support(), CgroupSupport)
        return [str(0 if whole else self.memory_limit), str(math.ceil(self.timeout) + 5), str(self.job_bytes),
                str(0 if whole else _process_limit())]


def worker_spec(data_dir: Path, *, sandbox: bool | None, timeout: float = DEFAULT_RENDER_TIMEOUT,
                memory_limit: int = DEFAULT_MEMORY_LIMIT, scene_files: Path | None = None,
                job_bytes: int = DEFAULT_JOB_BYTES) -> tuple[WorkerSpec, str | None]:
    """The spec of a server on `data_dir`, and why its renders are not sandboxed (None when they are).

    `sandbox`: None = bwrap when it runs here; True = require it (a ValueError if it cannot run);
    False = never (`--no-sandbox`).
    """
    problem = bwrap_problem() if sandbox is not False else "started with --no-sandbox"
    if sandbox is True and problem:
        raise ValueError(f"cannot sandbox renders: {problem}; or start without requiring the sandbox.")
    hidden = (Path(data_dir).expanduser().resolve(), kodisc_data_dir(), Path.home())
    return WorkerSpec(problem is None, timeout, memory_limit, hidden, scene_files, job_bytes), problem


def scene_files(folder: str | os.PathLike | None) -> tuple[Path | None, str | None]:
    """The folder a single-user server's renders may read, as `ImageMobject("diagram.png")` beside a
    notebook needs (read-only, and their working directory), or None and why not: a folder that holds
    the home (or is /) would show all of it, so only a folder of its own is shared."""
    if folder is None:
        return None, None
    path = Path(folder).expanduser().resolve()
    if not path.is_dir():
        return None, f"{path} is not a folder"
    if Path.home().resolve().is_relative_to(path):
        return None, (f"renders do not see {path}: it holds your whole home folder; keep the notebook and its "
                      "files in a folder of their own")
    return path, None


def work_root(data_dir: Path, *, create: bool = True) -> Path:
    """Render folders for `data_dir`'s servers: in the temp dir (never inside the data dir), one per user and
    data dir, made private; `create=False` only says where (a check that must leave nothing behind)."""
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    root = Path(tempfile.gettempdir()) / f"kodisc-work-{os.getuid()}" / digest
    if create:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(root.parent, 0o700)
    return root


def renders_dir(data_dir: Path, *, create: bool = True) -> Path:
    """Where servers on `data_dir` render: a folder per running server, and pre-started workers' folders."""
    return work_root(data_dir, create=create) / "renders"


def new_folder(parent: Path, prefix: str = "warm-") -> Path:
    """A new private folder in `parent` (made if needed): a worker's, or a server's in `renders_dir`."""
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent)).resolve()


def discard(folder: Path) -> None:
    """Remove a folder of `renders_dir` whatever a scene left in it, then `renders_dir` and `work_root` too if that
    left them empty. Never raises."""
    from ._leftovers import remove_tree  # here, not at the top: a head start loads as little as it can

    remove_tree(folder)
    for parent in (folder.parent, folder.parent.parent):
        with contextlib.suppress(OSError):  # not empty: other servers' renders, or the movie cache
            parent.rmdir()


class RenderProcess:
    """One worker, started now: it sets its limits, imports Manim, then reads its job from stdin.

    Where the kernel lets us (see `_cgroups`) it runs in its own cgroup, which bounds the memory
    and processes of everything it starts together, and which is removed (killing whatever is
    left in it) when the worker has ended."""

    def __init__(self, spec: WorkerSpec, folder: Path) -> None:
        self.spec, self.folder = spec, folder
        env = render_env(JOB_MOUNT if spec.sandboxed else str(folder))
        worker_env = {**env, "GLIBC_TUNABLES": HEAP_TUNABLES}  # the worker's heap; bwrap keeps glibc's defaults
        argv = [INTERPRETER, "-m", "kodisc_jupyter.server._render_job", *spec.limits()]
        if spec.sandboxed:
            argv = sandboxed(argv, folder, worker_env, hidden=[*spec.hidden, folder.parent],
                             readable=[spec.scene_files] if spec.scene_files else [])
        self.group = _render_group(spec)
        #: whether the kernel killed any of its processes for the cgroup's memory limit (known once it ended)
        self.ran_out_of_memory = False
        if self.group is not None:
            argv = self.group.wrap(argv)
        try:
            (folder / "tmp").mkdir(exist_ok=True)
            with open(folder / "render.log", "wb") as log:
                self._popen = subprocess.Popen(argv, cwd=folder, env=env if spec.sandboxed else worker_env,
                                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, bufsize=0,
                                               start_new_session=True)
        except BaseException:
            self._remove_group()
            raise
        self.pid = self._popen.pid
        self._started: bool | None = None
        self._said = b""  # what it wrote on stdout and `ask()` did not return yet

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    async def started(self, timeout: float) -> bool:
        """Whether it signalled that its sandbox is set up (so its folder may be renamed); False if it died or hung."""
        import asyncio

        if self._started is None:
            assert self._popen.stdout is not None
            fd = self._popen.stdout.fileno()
            try:
                await asyncio.wait_for(_readable(fd), timeout)
                self._started = os.read(fd, 1) == b"r"
            except asyncio.TimeoutError:
                self._started = False
        return self._started

    def send(self, job: dict, *, talk: bool = False) -> None:
        """Its job as one JSON line (a short line: the pipe takes it without blocking), then the end of its
        input, unless `talk`: a split render's worker asks on stdout (`ask()`) and reads the answers (`answer()`)."""
        assert self._popen.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # it died already: its exit code tells why
            self._popen.stdin.write(json.dumps(job).encode() + b"\n")
        if not talk:
            self._popen.stdin.close()

    async def ask(self, limit: int = 64) -> str | None:
        """Its next line on stdout (after the first byte); None at its end, "" past `limit` bytes."""
        assert self._popen.stdout is not None
        if not await self.started(self.spec.timeout):  # its first byte is not a line
            return None
        fd = self._popen.stdout.fileno()
        while b"\n" not in self._said:
            if len(self._said) > limit:  # no line of ours is this long: "" is no valid line either
                self._said = b""
                return ""
            await _readable(fd)
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            self._said += chunk
        line, _, self._said = self._said.partition(b"\n")
        return line.decode("ascii", "replace")

    def answer(self, line: str) -> None:
        """One line to a talking worker (a few bytes: the pipe takes it without blocking)."""
        assert self._popen.stdin is not None
        with contextlib.suppress(BrokenPipeError, ValueError):  # it died (or ended talking) already
            self._popen.stdin.write(line.encode() + b"\n")

    async def wait(self) -> int:
        """Its exit code, awaited on the running loop."""
        import asyncio

        if self._popen.poll() is None:
            try:
                pidfd = os.pidfd_open(self.pid)
            except (AttributeError, OSError):  # no pidfd (not Linux >= 5.3): look now and then
                while self._popen.poll() is None:
                    await asyncio.sleep(0.05)
            else:
                try:
                    await _readable(pidfd)
                finally:
                    os.close(pidfd)
        self._close_pipes()
        if self.group is not None:  # in a thread: after a kill its last processes take a few ms to leave it
            await asyncio.to_thread(self._remove_group)
        return self._popen.wait()

    def kill(self) -> None:
        """End it and everything it started (under bwrap, the sandbox's whole PID namespace; in a cgroup, all of it)."""
        kill_session(self.pid)
        if self.group is not None:
            self.group.kill()

    def _remove_group(self) -> None:
        group, self.group = self.group, None
        if group is not None:
            self.ran_out_of_memory = group.oom_kills() > 0
            group.remove()

    async def end(self) -> None:
        self.kill()
        await self.wait()

    def end_now(self) -> None:
        """`end()` without a loop (a pre-started worker nobody adopted), its folder removed too."""
        self.kill()
        self._popen.wait()
        self._close_pipes()
        self._remove_group()
        discard(self.folder)

    def _close_pipes(self) -> None:
        for pipe in (self._popen.stdin, self._popen.stdout):
            if pipe is not None:
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()


def prestart(data_dir: Path, files: Path | None = None) -> RenderProcess | None:
    """A sandboxed worker for the default server on `data_dir` (its renders reading `files`, see
    `scene_files`), started now, for that server to adopt.

    None without bwrap (an unsandboxed worker sees its folder by its real path, so it cannot
    move into a job's folder later). Its folder is named `PRESTARTED_PREFIX*`; a server starting
    on the same data dir leaves such folders alone while they are young.
    """
    spec, problem = worker_spec(data_dir, sandbox=None, scene_files=scene_files(files)[0])
    if problem is not None:
        return None
    return RenderProcess(spec, new_folder(renders_dir(Path(data_dir).expanduser().resolve()), PRESTARTED_PREFIX))


async def _readable(fd: int) -> None:
    """Until `fd` is readable (data, end of file, or for a pidfd: the process exited)."""
    import asyncio

    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


def _render_group(spec: WorkerSpec) -> RenderGroup | None:
    """A new cgroup for one worker with the spec's limits, or None where the kernel gives none (see `limits_line`)."""
    support = cgroup_support()
    if not isinstance(support, CgroupSupport):
        return None
    try:
        return RenderGroup(support, memory=spec.memory_limit, processes=RENDER_PROCESSES)
    except OSError:  # e.g. a cgroup limit on groups: this render keeps its per-process limits only
        return None


def limits_line(spec: WorkerSpec) -> str:
    """One line saying which limits hold for each render here (printed when a server starts)."""
    gib = spec.memory_limit / 1024**3
    job = f"{spec.job_bytes // 1024**2} MB written per job, {spec.timeout:g} s per render"
    support = cgroup_support()
    tmp = f"/tmp and /dev/shm {TMP_BYTES // 1024**2} MB each" if spec.sandboxed else "/tmp: the host's"
    if isinstance(support, CgroupSupport):
        return (f"Render limits ({support.describe()}): {gib:g} GiB of memory for the whole render (its /tmp "
                f"included) and {RENDER_PROCESSES} processes; {tmp}; {job}.")
    root = " (not enforced for root)" if os.getuid() == 0 else ""
    return (f"Render limits (no cgroup: {support}): {gib:g} GiB of memory per process, not per render; "
            f"{RENDER_PROCESSES} more processes than the server's user runs{root}; {tmp}; {job}.")


def _process_limit() -> int:
    """RLIMIT_NPROC counts all of the user's processes: leave room for the render above what runs now."""
    try:
        mine = sum(1 for entry in Path("/proc").iterdir() if entry.name.isdigit() and entry.stat().st_uid == os.getuid())
    except OSError:
        return 0
    return mine + RENDER_PROCESSES

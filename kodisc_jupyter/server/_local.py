"""`LocalServer`: the store, the renderer, the app and uvicorn for one data dir, in a thread or in the foreground.

The data dir holds `server.sqlite3` (users, hashed keys, ledger, jobs), `jobs/<jobId>/` (rendered
files), `owner.json` (the first user's key and webhook secret, mode 0600, so every start can
print them again) and scratch folders. Nothing here imports Manim: renders run in subprocesses.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from ..contract._rules import key_prefix
from ._app import create_app
from ._delivery import WebhookSender
from ._faults import FaultInjector
from ._gateway import KodiscRenderer
from ._http import HeaderDeadlineProtocol
from ._hub import HubSettings, HubUsers, UnderPrefix
from ._jobs import JobRunner
from ._movie_cache import MovieCache
from ._options import ServerOptions
from ._process import RenderProcess, limits_line, renders_dir, scene_files, work_root, worker_spec
from ._renderers import ManimRenderer, SimulatedRenderer
from ._split import SplitRule, Splitter
from ._store import Credentials, Store

_START_TIMEOUT = 15.0


class LocalServer:
    """A Kodisc-compatible server for one data dir. Use `start_local_server()` (background thread) or `serve()`."""

    def __init__(self, data_dir: str | os.PathLike | None = None, options: ServerOptions | None = None, *,
                 prestarted: RenderProcess | None = None, **overrides: Any) -> None:
        """`prestarted`: a worker `prestart(data_dir)` started earlier, adopted by the Manim renderer
        (or ended, if this server would not have started the same one)."""
        taken = False
        try:
            taken = self._set_up(data_dir, ServerOptions.of(options, **overrides), prestarted)
        finally:
            if prestarted is not None and not taken:
                prestarted.end_now()

    def _set_up(self, data_dir: str | os.PathLike | None, o: ServerOptions, prestarted: RenderProcess | None) -> bool:
        """Everything `__init__` says; True when the Manim renderer took `prestarted` (it ends it if unfit)."""
        self.options = o
        if data_dir is None:
            from .._paths import data_dir as default_data_dir

            data_dir = default_data_dir() / "server"
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # webhook secrets live in it
        os.chmod(self.data_dir, 0o700)  # also when it existed with a wider mode
        #: The folder renders read (`options.scene_files`, if it may be shared), else None and why not.
        self.scene_files, self.scene_files_problem = scene_files(o.scene_files)
        hub_settings = HubSettings.from_env() if o.jupyterhub else None
        self._socket = _bind(o.host, o.port)
        try:
            self._store = Store(self.data_dir / "server.sqlite3", monthly_free_credits=o.free_credits)
            self._owner = _load_or_create_owner(self._store, self.data_dir / "owner.json", o.credits)
            scratch = work_root(self.data_dir)
            workers = o.workers or os.cpu_count() or 1
            engine: ManimRenderer | SimulatedRenderer | KodiscRenderer = SimulatedRenderer(
                self.data_dir / "samples", timeout=o.render_timeout)
            if o.renderer == "kodisc":
                engine = KodiscRenderer(self.data_dir, upstream_url=o.upstream_url, exchange_rate=o.exchange_rate,
                                        metadata_policy=o.metadata_policy, timeout=o.render_timeout)
            elif o.renderer == "manim":
                spec, problem = worker_spec(self.data_dir, sandbox=o.sandbox, timeout=o.render_timeout,
                                            memory_limit=o.memory_limit, scene_files=self.scene_files,
                                            job_bytes=o.job_bytes)
                engine = ManimRenderer(spec, problem=problem, trusted_user=None if o.sandbox is False else
                                       self._owner.user_id, warm=o.warm_workers(workers), adopt=prestarted,
                                       cache=MovieCache(scratch / "cache", max_bytes=o.cache_size) if o.cache_size
                                       else None)
        except BaseException:
            self._socket.close()
            if hasattr(self, "_store"):
                self._store.close()
            raise
        bound_port = self._socket.getsockname()[1]
        url_host = "127.0.0.1" if o.host in ("0.0.0.0", "::", "") else (f"[{o.host}]" if ":" in o.host else o.host)
        self.public_url = f"http://{url_host}:{bound_port}"
        if hub_settings is not None:  # what students use: through the hub's proxy when the hub says its URL
            self.public_url = hub_settings.students_url(self.public_url)
        self.base_url = f"{self.public_url}/api/v2"
        #: The upstream Kodisc of a gateway (no key in it), else None.
        self.upstream_url = engine.upstream_url if isinstance(engine, KodiscRenderer) else None

        sender = WebhookSender(retry_delays=o.webhook_retry_delays, answer_timeout=o.webhook_timeout,
                               allow_loopback=o.allow_http_webhooks)
        #: None when renders are sandboxed (or simulated), else why not: `serve` says it in one line.
        self.sandbox_problem = engine.unsandboxed_problem if isinstance(engine, ManimRenderer) else None
        #: Which limits hold for each render here, in one line (None for simulated renders).
        self.limits = limits_line(engine.spec) if isinstance(engine, ManimRenderer) else None
        self._runner = runner = JobRunner(self._store, engine, files_dir=self.data_dir / "jobs",
                                          work_dir=renders_dir(self.data_dir),
                           workers=o.upstream_concurrency if o.renderer == "kodisc" else workers,
                           sender=sender, public_url=self.public_url,
                           instances_dir=self.data_dir / "servers", per_user=o.per_user,
                           first_user=self._owner.user_id)
        if isinstance(engine, ManimRenderer) and o.split and engine.cache is not None:
            engine.splitter = Splitter(SplitRule(o.split_min_animations, o.split_min_frames), runner.queue)

        self._loop: asyncio.AbstractEventLoop | None = None  # the server's, once it runs
        hub = None if hub_settings is None else HubUsers(hub_settings, self._store, self.data_dir,
                                                         credits_per_user=o.credits_per_user)

        async def wind_down() -> None:  # twice is harmless: stop(wait=False) runs it before uvicorn's shutdown does
            await runner.stop()
            await sender.aclose()
            if hub is not None:
                await hub.aclose()

        @contextlib.asynccontextmanager
        async def lifespan(app):
            self._loop = asyncio.get_running_loop()
            await runner.start()
            try:
                yield
            finally:
                await wind_down()

        self._wind_down = wind_down

        app: Any = create_app(self._store, runner, files_dir=self.data_dir / "jobs", public_url=self.public_url,
                         allow_http_webhooks=o.allow_http_webhooks, lifespan=lifespan, hub=hub)
        app = FaultInjector(app, error_rate=o.fault_5xx_rate, drop_rate=o.fault_drop_rate,
                            drop_after_create_rate=o.fault_drop_after_create_rate, latency=o.fault_latency,
                            seed=o.fault_seed)
        if hub_settings is not None:
            app = UnderPrefix(app, hub_settings.prefix)
        config = uvicorn.Config(app, log_config=None, access_log=False, log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=3, http=HeaderDeadlineProtocol)
        self._uvicorn = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._stopped = False
        return isinstance(engine, ManimRenderer)

    # what clients need -------------------------------------------------------------------
    @property
    def api_key(self) -> str:
        """The first user's key (never logged: show `key_prefix(api_key)` instead)."""
        return self._owner.api_key

    @property
    def cleaned(self) -> str | None:
        """What this server cleaned at start after stopped servers on its data dir (one line), if anything."""
        return self._runner.cleaned

    @property
    def webhook_secret(self) -> str:
        return self._owner.webhook_secret

    def __repr__(self) -> str:
        return f"<LocalServer {self.base_url} key={key_prefix(self.api_key)} data_dir={str(self.data_dir)!r}>"

    # running --------------------------------------------------------------------------------
    def start(self) -> LocalServer:
        """Serve in a daemon thread (no signal handlers); returns once the server answers."""
        self._thread = threading.Thread(target=self._uvicorn.run, kwargs={"sockets": [self._socket]},
                                        name=f"kodisc-local-server:{self.public_url}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the local Kodisc server at {self.base_url} did not start; see the log above.")
            time.sleep(0.005)
        return self

    def serve(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve until SIGINT or SIGTERM (from the main thread), then stop cleanly.

        `on_ready` runs once the server answers and the signal handlers are in place, so whoever
        reacts to it (e.g. to the announced lines) can stop the server cleanly right away.
        """
        stopping = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            if on_ready is not None:
                on_ready()
            while not stopping.wait(0.5) and self._thread is not None and self._thread.is_alive():
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()

    def stop(self, *, wait: bool = True) -> None:
        """Stop serving, kill renders in progress (their jobs fail on the next start) and close the store.

        `wait=False` is for a process about to exit (one-shot `kodisc render`): the workers end and
        the store closes now, and uvicorn's own shutdown (0.1-0.2 s of fixed pauses, with no client
        left to answer) is left to the daemon thread.
        """
        self._uvicorn.should_exit = True
        thread = self._thread if self._thread is not threading.current_thread() else None
        serving = thread is not None and thread.is_alive()
        if serving and not wait and self._loop is not None:
            with contextlib.suppress(Exception):  # the loop may have just stopped: then uvicorn wound down
                asyncio.run_coroutine_threadsafe(self._wind_down(), self._loop).result(timeout=10)
        elif thread is not None:
            thread.join(timeout=10)
            serving = False
        self._close(close_socket=not serving)  # a serving uvicorn closes the socket itself

    def _close(self, *, close_socket: bool = True) -> None:
        if not self._stopped:
            self._stopped = True
            if close_socket:
                self._socket.close()
            self._runner.instance.release()
            self._store.close()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # administration -------------------------------------------------------------------------
    def job_count(self) -> int:
        """Jobs ever created here, all users (tests use it to prove no POST created a job)."""
        return self._store.job_count()

    def create_user(self, credits: int = 0) -> Credentials:
        """Another user with its own key and webhook secret (for cross-user tests)."""
        return self._store.create_user(credits)

    def set_default_webhook(self, url: str | None, *, api_key: str | None = None) -> None:
        """The webhook URL used when a POST has no `webhookUrl` (for `api_key`, default the first user's key)."""
        key = self._store.authenticate(api_key or self.api_key)
        if key is None:
            raise ValueError("api_key is not a key of this server; pass server.api_key or the api_key of "
                             "server.create_user().")
        self._store.set_default_webhook(key.key_id, url)


def start_local_server(data_dir: str | os.PathLike | None = None, options: ServerOptions | None = None,
                       **overrides: Any) -> LocalServer:
    """Start a local Kodisc on a loopback port in a background thread; `ServerOptions` lists the options."""
    return LocalServer(data_dir, options, **overrides).start()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only then (else +40 ms per answer)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port or use 0") from None
    sock.listen(128)  # connections made before uvicorn runs wait in the backlog
    return sock


def _load_or_create_owner(store: Store, path: Path, credits: int) -> Credentials:
    """The first user, created on the first start and kept: its key is reprinted on every start."""
    if path.is_file():
        os.chmod(path, 0o600)  # an older or hand-made file may be wider
        try:
            saved = Credentials(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:  # the type only: the text could quote the key
            raise ValueError(f"{path} is unreadable ({type(exc).__name__}); restore it, or delete it to create a "
                             "new first user (keys made before keep working).") from None
        if store.authenticate(saved.api_key) is not None:
            return saved
    owner = store.create_user(credits)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_TRUNC: narrow it
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(dataclasses.asdict(owner), handle)
    return owner

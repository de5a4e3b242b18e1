"""`ServerOptions`: everything a local server can be started with, in one checked, frozen value.

`start_local_server(data_dir, options)` and `kodisc serve` both build one; keyword arguments to
`start_local_server()` / `LocalServer()` override its fields (`start_local_server(renderer="simulate")`).
Every bad value is a one-line `ValueError` before anything is bound or created.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any

from ..contract._rules import is_number
from ._delivery import ANSWER_TIMEOUT, DEFAULT_RETRY_DELAYS
from ._movie_cache import DEFAULT_CACHE_SIZE
from ._pricing import DEFAULT_MONTHLY_FREE_CREDITS, DEFAULT_PAID_CREDITS
from ._process import DEFAULT_JOB_BYTES, DEFAULT_MEMORY_LIMIT, DEFAULT_RENDER_TIMEOUT
from ._split import SplitRule

#: Workers kept waiting with Manim imported when renders do not split (~100-150 MB each; see docs/server.md).
DEFAULT_WARM_WORKERS = 1

METADATA_POLICIES = ("exact", "ignore")
RENDERERS = ("manim", "simulate", "kodisc")


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    credits: int = DEFAULT_PAID_CREDITS  # the first user's paid credits, when it is created
    free_credits: int = DEFAULT_MONTHLY_FREE_CREDITS  # every user's monthly allowance
    workers: int | None = None  # renders at once; None: the CPU count
    per_user: int | None = None  # one user's renders at once; None: all but one once a second user has work
    renderer: str = "manim"  # or "simulate" (no Manim: benchmarks and fast tests), or "kodisc" (the gateway)
    sandbox: bool | None = None  # None: bubblewrap when it runs here; False: never (trusted scenes only)
    render_timeout: float = DEFAULT_RENDER_TIMEOUT
    memory_limit: int = DEFAULT_MEMORY_LIMIT  # bytes for a whole render (its cgroup), or per process without one
    job_bytes: int = DEFAULT_JOB_BYTES  # what one render may write (`--max-job-mb`); past it the job fails
    warm: int | None = None  # sandboxed workers with Manim imported, waiting; None: 2 when renders split, else 1
    cache_size: int = DEFAULT_CACHE_SIZE  # bytes of Manim's partial-movie cache across renders; 0: off
    #: A folder every render may read and runs in: the embedded single-user server's notebook folder
    #: (`_process.scene_files`); a shared `kodisc serve` never sets it.
    scene_files: str | os.PathLike | None = None
    split: bool = True  # a long scene renders on idle workers too (needs the cache; see docs/server.md)
    split_min_animations: int = SplitRule.min_animations  # play/wait calls a scene needs to split
    split_min_frames: int = SplitRule.min_frames  # and frames (known from its last render)
    allow_http_webhooks: bool = False  # local development: http:// and loopback handlers
    webhook_retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    webhook_timeout: float = ANSWER_TIMEOUT
    fault_5xx_rate: float = 0.0
    fault_drop_rate: float = 0.0
    fault_drop_after_create_rate: float = 0.0
    fault_latency: tuple[float, float] = (0.0, 0.0)
    fault_seed: int | None = None
    # the gateway (renderer="kodisc") and JupyterHub sign-in: docs/server.md, Running a class
    upstream_url: str | None = None  # None: $KODISC_BASE_URL, else Kodisc's own
    upstream_concurrency: int = 4  # jobs forwarded (or waiting for an identical one) at once
    exchange_rate: float = 1.0  # the students' credits per Kodisc credit
    metadata_policy: str = "exact"  # "exact": metadata is part of a render's identity; "ignore": it is not
    jupyterhub: bool = False  # a hub-managed service: hub tokens sign in (reads JUPYTERHUB_* from the environment)
    credits_per_user: int = 0  # paid credits of a hub user on first sign-in

    def warm_workers(self, workers: int) -> int:
        """`warm`, or its default: a worker for each render a split uses (two at most), else one."""
        if self.warm is not None:
            return self.warm
        return min(2, workers) if self.split and self.cache_size else DEFAULT_WARM_WORKERS

    def __post_init__(self) -> None:
        _check(self)

    @classmethod
    def of(cls, options: ServerOptions | None = None, **overrides: Any) -> ServerOptions:
        """`options` (or the defaults) with `overrides`; an unknown name is a one-line TypeError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(f"unknown local server option(s): {', '.join(unknown)}; see ServerOptions")
        base = {f.name: getattr(options, f.name) for f in fields(cls)} if options is not None else {}
        return cls(**{**base, **overrides})


def _check(o: ServerOptions) -> None:
    if o.renderer not in RENDERERS:
        raise ValueError(f"renderer must be one of {', '.join(RENDERERS)}; got {o.renderer!r}")
    if o.workers is not None and (type(o.workers) is not int or o.workers < 1):
        raise ValueError(f"workers must be an integer >= 1 (or None for the CPU count); got {o.workers!r}")
    if o.per_user is not None and (type(o.per_user) is not int or o.per_user < 1):
        raise ValueError(f"per_user must be an integer >= 1 (or None for all workers but one); got {o.per_user!r}")
    if type(o.port) is not int or not 0 <= o.port <= 65535:
        raise ValueError(f"port must be an integer 0..65535 (0 = any free port); got {o.port!r}")
    for name in ("credits", "free_credits"):
        value = getattr(o, name)
        if type(value) is not int or value < 0:
            raise ValueError(f"{name} must be an integer >= 0; got {value!r}")
    for name in ("render_timeout", "webhook_timeout"):
        value = getattr(o, name)
        if not is_number(value) or value <= 0 or value == float("inf"):
            raise ValueError(f"{name} must be a number of seconds > 0; got {value!r}")
    for name in ("fault_5xx_rate", "fault_drop_rate", "fault_drop_after_create_rate"):
        rate = getattr(o, name)
        if not is_number(rate) or not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} must be a number between 0 and 1; got {rate!r}")
    latency = o.fault_latency
    if not (isinstance(latency, (tuple, list)) and len(latency) == 2 and all(map(is_number, latency))
            and 0 <= latency[0] <= latency[1]):
        raise ValueError(f"fault_latency must be (low, high) seconds with 0 <= low <= high; got {latency!r}")
    if o.warm is not None and (type(o.warm) is not int or o.warm < 0):
        raise ValueError(f"warm must be an integer >= 0 (0 = no warm workers; None: the default); got {o.warm!r}")
    if type(o.job_bytes) is not int or o.job_bytes < 1024**2:
        raise ValueError(f"job_bytes must be an integer of at least 1 MB (1048576); got {o.job_bytes!r}")
    if type(o.split) is not bool:
        raise ValueError(f"split must be True or False; got {o.split!r}")
    for name in ("split_min_animations", "split_min_frames"):
        value = getattr(o, name)
        if type(value) is not int or value < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    if type(o.cache_size) is not int or o.cache_size < 0:
        raise ValueError(f"cache_size must be a number of bytes >= 0 (0 = no cache); got {o.cache_size!r}")
    if o.scene_files is not None and not isinstance(o.scene_files, (str, os.PathLike)):
        raise ValueError(f"scene_files must be a folder's path (or None); got {o.scene_files!r}")
    if type(o.upstream_concurrency) is not int or o.upstream_concurrency < 1:
        raise ValueError(f"upstream_concurrency must be an integer >= 1; got {o.upstream_concurrency!r}")
    if not is_number(o.exchange_rate) or not 0 <= o.exchange_rate < float("inf"):
        raise ValueError(f"exchange_rate must be a number >= 0 (class credits per Kodisc credit); "
                         f"got {o.exchange_rate!r}")
    if o.metadata_policy not in METADATA_POLICIES:
        raise ValueError(f"metadata_policy must be one of {', '.join(METADATA_POLICIES)}; got {o.metadata_policy!r}")
    if type(o.credits_per_user) is not int or o.credits_per_user < 0:
        raise ValueError(f"credits_per_user must be an integer >= 0; got {o.credits_per_user!r}")
    if o.sandbox not in (None, True, False):
        raise ValueError(f"sandbox must be None (bwrap when it runs here), True or False; got {o.sandbox!r}")

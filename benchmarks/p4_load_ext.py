"""P4: what `%load_ext kodisc_jupyter` adds to a fresh kernel.

Fresh kernels, alternately bare and loading the extension in their first cell, several runs each;
medians. Measured two ways: the whole "start kernel -> first cell done" wall time (what a user
waits for), and inside the kernel the time of the `%load_ext` call alone and the modules it imports.
The goal stated in issue 4 is <= 100 ms added; heavy modules (httpx, ipywidgets, the server, Manim)
should be imported lazily, on first render.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from benchlib import ipc_config, kernel_env, median, print_table, workdir

RUNS = 7
HEAVY = ("httpx", "ipywidgets", "starlette", "uvicorn", "manim", "sqlite3")
PROBE = """
import json as _json, sys as _sys, time as _time
_before = set(_sys.modules)
_t = _time.perf_counter()
{load}
_elapsed = _time.perf_counter() - _t
_new = set(_sys.modules) - _before
print(_json.dumps({{"seconds": _elapsed, "modules": len(_new),
                   "heavy": sorted(m for m in {heavy!r} if m in _new)}}))
"""


def one_kernel(load: bool, env: dict[str, str], sockets: Path) -> tuple[float, dict]:
    """Start a kernel, run the probe as its first cell; (start->reply seconds, the probe's report)."""
    from jupyter_client import KernelManager

    code = PROBE.format(load="get_ipython().run_line_magic('load_ext', 'kodisc_jupyter')" if load else "",
                        heavy=HEAVY)
    printed: list[str] = []

    def collect(message):
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            printed.append(json.dumps({"error": message["content"]["evalue"]}))

    manager = KernelManager(kernel_name="python3", config=ipc_config(sockets))
    started = time.perf_counter()
    manager.start_kernel(env=env)
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        client.execute_interactive(code, output_hook=collect, timeout=60)
        total = time.perf_counter() - started
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    report = json.loads("".join(printed).strip().splitlines()[-1])
    if "error" in report:
        raise SystemExit(f"P4: %load_ext kodisc_jupyter failed in the kernel: {report['error']}")
    return total, report


def main() -> None:
    with workdir("p4") as tmp:
        env = kernel_env(tmp)
        one_kernel(False, env, tmp)  # warm the OS file cache so the first measured run is not an outlier
        bare, loaded = [], []
        for _ in range(RUNS):
            bare.append(one_kernel(False, env, tmp))
            loaded.append(one_kernel(True, env, tmp))
    bare_total = median([total for total, _ in bare])
    loaded_total = median([total for total, _ in loaded])
    load_ms = median([report["seconds"] for _, report in loaded]) * 1000
    bare_modules = median([report["modules"] for _, report in bare])
    loaded_modules = median([report["modules"] for _, report in loaded])
    heavy = sorted({name for _, report in loaded for name in report["heavy"]})
    print_table(
        f"P4 `%load_ext kodisc_jupyter` in a fresh kernel (median of {RUNS} kernels each)",
        ["measure", "bare kernel", "with %load_ext", "added"],
        [
            ["start -> first cell done (ms)", bare_total * 1000, loaded_total * 1000,
             (loaded_total - bare_total) * 1000],
            ["%load_ext call alone (ms)", 0.0, load_ms, load_ms],
            ["modules imported by the first cell", bare_modules, loaded_modules, loaded_modules - bare_modules],
            ["heavy modules imported", "-", ", ".join(heavy) or "none", ""],
        ],
    )


if __name__ == "__main__":
    main()

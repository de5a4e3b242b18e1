"""P5: 20 `%%kodisc --no-wait` renders in a row, and a kernel that stays usable meanwhile.

A kernel (driven over jupyter_client, every iopub message kept) pointed at a local server with the
`simulate` renderer (jobs of JOB_SECONDS each, WORKERS at once). Measured: how long each
`--no-wait` cell takes to return; the round trip of an unrelated cell (`1 + 1`) idle, then
repeatedly while the 20 jobs run; and whether all 20 outputs landed — a player (`<video`) put in
place of each status bar by a display update from the background worker.
"""
from __future__ import annotations

import json
import time

from benchlib import ipc_config, kernel_env, median, print_table, workdir

RENDERS = 20
JOB_SECONDS = 3
WORKERS = 10
LAND_TIMEOUT_S = 120
CELL = """%%kodisc NoWait{i} --no-wait --metadata '{{"simulate": {{"seconds": {seconds}}}}}'
from manim import *

class NoWait{i}(Scene):
    def construct(self):
        self.add(Dot())
"""


class Kernel:
    """A kernel whose iopub messages are all kept, so background display updates are seen too."""

    def __init__(self, env, folder) -> None:
        from jupyter_client import KernelManager

        self.manager = KernelManager(kernel_name="python3", config=ipc_config(folder))
        self.manager.start_kernel(env=env, cwd=str(folder))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.messages: list[dict] = []

    def run(self, code: str) -> float:
        """Execute and return the seconds until the kernel is idle again; a cell error stops the run."""
        started = time.perf_counter()
        msg_id = self.client.execute(code)
        while True:
            message = self.client.get_iopub_msg(timeout=60)
            self.messages.append(message)
            mine = message["parent_header"].get("msg_id") == msg_id
            if mine and message["msg_type"] == "error":
                raise SystemExit(f"P5: cell failed: {message['content']['evalue']}")
            if mine and message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                return time.perf_counter() - started

    def drain(self) -> None:
        while self.client.iopub_channel.msg_ready():
            self.messages.append(self.client.get_iopub_msg(timeout=1))

    def landed(self) -> int:
        """Display ids whose latest update carries a player."""
        latest: dict[str, str] = {}
        for message in self.messages:
            if message["msg_type"] in ("display_data", "update_display_data"):
                display_id = message["content"].get("transient", {}).get("display_id")
                if display_id:
                    latest[display_id] = json.dumps(message["content"]["data"])
        return sum("<video" in data for data in latest.values())

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def main() -> None:
    from kodisc_jupyter import start_local_server

    with workdir("p5") as tmp, start_local_server(tmp / "server", renderer="simulate",
                                                  workers=WORKERS) as server:
        home = tmp / "kodisc-home"
        home.mkdir()
        kernel = Kernel(kernel_env(home, server), tmp)
        try:
            kernel.run("%load_ext kodisc_jupyter")
            idle = [kernel.run("1 + 1") for _ in range(10)]
            submitted = time.perf_counter()
            returns = [kernel.run(CELL.format(i=i, seconds=JOB_SECONDS)) for i in range(RENDERS)]
            during = []
            while kernel.landed() < RENDERS and time.perf_counter() - submitted < LAND_TIMEOUT_S:
                during.append(kernel.run("1 + 1"))
                kernel.drain()
                time.sleep(0.1)
            all_landed = time.perf_counter() - submitted
            landed, jobs = kernel.landed(), server.job_count()
        finally:
            kernel.close()
    during_sorted = sorted(during) or [float("nan")]
    ms = lambda seconds: seconds * 1000  # noqa: E731
    print_table(
        f"P5 {RENDERS} `--no-wait` renders (simulate renderer, {JOB_SECONDS} s jobs, {WORKERS} workers)",
        ["measure", "value"],
        [
            ["--no-wait cell returns, median (ms)", ms(median(returns))],
            ["--no-wait cell returns, max (ms)", ms(max(returns))],
            ["unrelated cell `1 + 1`, idle kernel, median (ms)", ms(median(idle))],
            [f"unrelated cell while jobs run, median of {len(during)} (ms)", ms(median(during_sorted))],
            ["unrelated cell while jobs run, max (ms)", ms(during_sorted[-1])],
            ["outputs landed (player in place of the bar)", f"{landed} / {RENDERS}"],
            ["jobs created on the server", jobs],
            ["first submit -> all landed (s)", all_landed],
        ],
    )


if __name__ == "__main__":
    main()

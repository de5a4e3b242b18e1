"""Renders through the pipeline for the panel tests (the simulated server takes its plan from metadata)."""
from __future__ import annotations

from kodisc_jupyter.errors import RenderFailedError
from kodisc_jupyter.rendering import pipeline
from kodisc_jupyter.rendering.backend import resolve_backend

#: A failure message with markup in it: every view must show it escaped.
HOSTILE_ERROR = '<script>alert("x")</script> & <b>boom</b>'


def scene(name: str, wait: float = 0.5) -> str:
    return (f"from manim import *\n\n\nclass {name}(Scene):\n"
            f"    def construct(self):\n        self.add(Circle())\n        self.wait({wait})\n")


def simulated(name: str, *, quality: str = "low", seconds: float = 0.1, fail: str | None = None) -> pipeline.RenderRequest:
    plan: dict = {"seconds": seconds}
    if fail:
        plan["fail"] = fail
    return pipeline.RenderRequest(code=scene(name), class_name=name, quality=quality, metadata={"simulate": plan})


def run(request: pipeline.RenderRequest) -> str:
    """Render through the pipeline (as %%kodisc does) and return the job id, failed or not."""
    flow = pipeline.RenderFlow(request, resolve_backend("auto"))
    try:
        return pipeline.run(flow).job.job_id
    except RenderFailedError as exc:
        return exc.job.job_id


def submit(request: pipeline.RenderRequest) -> str:
    """Submit without waiting (as `--no-wait` does) and return the job id."""
    flow = pipeline.RenderFlow(request, resolve_backend("auto"))
    assert pipeline.submit(flow) is None
    return flow.job.job_id

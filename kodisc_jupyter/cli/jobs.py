"""`kodisc render | me | jobs | resume`: the notebook's render flow and account views for scripts and CI.

`render` goes through the same pipeline as `%%kodisc` (backend choice, pre-flight, cache,
history), so a course build and a notebook share one cache and one job history. Problems are
one line on stderr, never a traceback; the exit code says which kind (see `kodisc_jupyter.cli.exit_codes`).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from .._argtypes import fps, positive_int
from .._redact import redact
from ..contract import ASPECT_RATIOS, DEFAULT_ASPECT_RATIO, DEFAULT_QUALITY, MANIM_QUALITY_LETTERS, QUALITIES
from ..contract._errors import BadRequestError, KodiscError, RenderFailedError, ValidationError
from ..rendering import pipeline, session
from ..rendering.backend import CHOICES, COMMAND_LINE, resolve_backend, stop_local_server
from ..rendering.views import STATUS_CHOICES, balance_line, format_progress, jobs_text
from .exit_codes import EXIT_API_ERROR, EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_RENDER_FAILED, fail

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def register(subparsers: Any) -> None:
    """Add `render`, `me`, `jobs` and `resume` to the `kodisc` command line."""
    render = subparsers.add_parser(
        "render", help="render a Manim scene from a .py file, or every %%kodisc cell of notebooks",
        description="FILE.py [ClassName]: render a Scene (same pre-flight, cache and history as %%kodisc) and save "
                    "the MP4, with its captions as .vtt beside it. NOTEBOOK.ipynb ...: render every %%kodisc cell "
                    "of the notebooks as executing them would (their prelude, %config Kodisc.* lines, cell options "
                    "and [tool.kodisc]), running nothing else, so a later execution finds every render cached.")
    render.add_argument("files", metavar="FILE", nargs="+",
                        help="FILE.py [ClassName] (ClassName optional when FILE defines one Scene), or NOTEBOOK.ipynb ...")
    render.add_argument("-q", "--quality", choices=tuple(QUALITIES), default=None,
                        help=f"render quality (default {DEFAULT_QUALITY}; .py only)")
    for letter, quality in MANIM_QUALITY_LETTERS.items():
        render.add_argument(f"-q{letter}", dest="quality", action="store_const", const=quality, help=f"--quality {quality}")
    render.add_argument("--aspect", choices=ASPECT_RATIOS, default=None, help=f"aspect ratio (default {DEFAULT_ASPECT_RATIO}; .py only)")
    render.add_argument("--fps", type=fps, help="frames per second (default: the quality's; .py only)")
    render.add_argument("-o", "--output", type=Path,
                        help="where to save the MP4 (default ./ClassName.mp4; with -s a .png, ./ClassName.png; .py only)")
    render.add_argument("-s", "--save_last_frame", action="store_true",
                        help="save the last frame as a PNG instead of the video, as Manim's -s (.py only)")
    render.add_argument("--backend", choices=CHOICES, default=None,
                        help="auto (default): Kodisc when a key is set, else the local server; for notebooks, "
                             "overrides their %%config Kodisc.backend")
    render.add_argument("--force", action="store_true", help="render again even if an identical render is cached")
    render.add_argument("--no-wait", action="store_true", help="submit, print the job id and return at once (.py only)")
    render.add_argument("-j", "--jobs", type=positive_int, default=None,
                        help="notebooks: renders at once (default: the local server's workers, or 8 on Kodisc)")
    render.add_argument("--dry-run", action="store_true",
                        help="notebooks: list what would render and its likely cost (from the history); send nothing")
    render.set_defaults(run=run_render)

    me = subparsers.add_parser("me", help="show the credit balance and the key in use")
    _backend_option(me)
    me.set_defaults(run=run_me)

    jobs = subparsers.add_parser("jobs", help="list past jobs from the local history, newest first",
                                 description="Past jobs from the local history (the Kodisc API cannot list jobs).")
    jobs.add_argument("-n", "--limit", type=positive_int, default=20, help="how many jobs (default 20)")
    jobs.add_argument("--status", choices=STATUS_CHOICES, default="all", help="only jobs with this status")
    jobs.add_argument("--all-users", action="store_true",
                      help="instead: a class gateway's jobs of every user and the credits shared renders saved "
                           "(reads the server's data dir)")
    jobs.add_argument("--data-dir", default=None,
                      help="with --all-users: the gateway's data (default: <kodisc data dir>/server)")
    jobs.set_defaults(run=run_jobs)

    resume = subparsers.add_parser("resume", help="wait for a job submitted earlier and save its MP4")
    resume.add_argument("job_id", metavar="JOB_ID", help="a job id from `kodisc jobs` or `render --no-wait`")
    resume.add_argument("-o", "--output", type=Path, help="where to save the MP4 (default ./ClassName.mp4)")
    resume.set_defaults(run=run_resume)


def _backend_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=CHOICES, default="auto",
                        help="auto (default): Kodisc when a key is set, else the local server")




def _exit_code(exc: BaseException) -> int:
    """Bad input (ours or a 400), a failed render, or a problem talking to the API."""
    if isinstance(exc, (ValidationError, BadRequestError)):
        return EXIT_BAD_INPUT
    if isinstance(exc, RenderFailedError):
        return EXIT_RENDER_FAILED
    return EXIT_API_ERROR


# -- me / jobs ------------------------------------------------------------------------------------


def run_me(args: argparse.Namespace) -> int:
    try:
        backend = resolve_backend(args.backend, hints=COMMAND_LINE)
        with backend.client() as client:
            print(balance_line(client.me(), backend.label))
        return EXIT_OK
    except KodiscError as exc:
        return fail(COMMAND_LINE.say(exc), _exit_code(exc))
    finally:
        stop_local_server(wait=False)  # the command ends next


def run_jobs(args: argparse.Namespace) -> int:
    if args.all_users:
        from ..server._gateway import savings_report
        from ..server._hub import hub_names
        from .serve import server_dir

        folder = server_dir(args.data_dir)
        print(savings_report(folder, hub_names(folder)))
        return EXIT_OK
    status = None if args.status == "all" else args.status
    history = pipeline.history()
    print(jobs_text(history.list(limit=args.limit, status=status), total=history.count(status), status=status))
    return EXIT_OK


# -- render / resume ------------------------------------------------------------------------------


class ProgressLine:
    """Shows a job's progress: one `\\r`-rewritten line on a terminal, a plain line per state otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._live = stream.isatty()
        self._progress: Any = None
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._width = 0

    @property
    def job_id(self) -> str | None:
        """The job seen so far (None before the POST succeeded)."""
        return self._progress.job_id if self._progress is not None else None

    def __call__(self, progress: Any) -> None:
        """A pipeline observer: called on every state change of the job."""
        self._progress = progress
        if self._live:
            if self._ticker is None:
                self._ticker = threading.Thread(target=self._tick, name="kodisc-progress", daemon=True)
                self._ticker.start()
            self._draw()
        else:
            print(self._describe(progress), file=self._stream, flush=True)

    def _describe(self, progress: Any, frame: str = "") -> str:
        elapsed = time.monotonic() - progress.started if progress.started else 0.0
        render_progress = progress.job.progress if progress.job is not None else None
        line = format_progress(class_name=progress.class_name, state=progress.state, elapsed=elapsed,
                               job_id=progress.job_id, backend=progress.backend.label, render_progress=render_progress,
                               previous_seconds=progress.previous_seconds, expected_seconds=progress.expected_seconds)
        return f"{frame} {line}".lstrip()

    def _draw(self) -> None:
        frame = _SPINNER[int(time.monotonic() * 10) % len(_SPINNER)]
        line = self._describe(self._progress, frame)
        self._stream.write("\r" + line.ljust(self._width))
        self._stream.flush()
        self._width = len(line)

    def _tick(self) -> None:
        while not self._stop.wait(0.1):
            self._draw()

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """End the live line (the terminal's next output starts on a fresh line)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._stream.write("\n")
            self._stream.flush()


def _save(outcome: Any, output: Path | None, *, last_frame: bool = False) -> list[Path]:
    """Copy the MP4 to `output` (default ./ClassName.mp4) and the captions beside it as .vtt; with
    `last_frame`, only the video's last frame as a PNG (default ./ClassName.png), as `%%kodisc -s` shows it."""
    if outcome.video is None:
        raise FileNotFoundError(f"job {outcome.job.job_id} completed but its video could not be saved locally")
    target = output or Path(f"{outcome.class_name}.{'png' if last_frame else 'mp4'}")
    target.parent.mkdir(parents=True, exist_ok=True)
    if last_frame:
        from .._frames import last_frame as decode_last_frame

        image = decode_last_frame(outcome.video)
        if image is None:
            raise FileNotFoundError(f"the video of job {outcome.job.job_id} has no frame")
        image.save(target, "PNG")
        return [target]
    shutil.copyfile(outcome.video, target)
    saved = [target]
    if outcome.captions is not None and Path(outcome.captions).stat().st_size > 0:
        shutil.copyfile(outcome.captions, target.with_suffix(".vtt"))
        saved.append(target.with_suffix(".vtt"))
    return saved


def _report(outcome: Any, output: Path | None, last_frame: bool) -> int:
    saved = _save(outcome, output, last_frame=last_frame)
    job = outcome.job
    if outcome.cached:
        how = f"reused the cached render of job {job.job_id}: 0 credits; --force renders again"
    else:
        seconds = f"{job.duration_ms / 1000:.1f} s" if job.duration_ms is not None else "? s"
        credits = f"{job.credits_cost:g} credit{'' if job.credits_cost == 1 else 's'}"
        how = f"job {job.job_id} · {seconds} · {credits} · {outcome.backend.label}"
    print(f"Saved {' + '.join(str(p) for p in saved)} ({how})")
    return EXIT_OK


def _run_flow(progress: ProgressLine, output: Path | None, start: Callable[[], Any], *, last_frame: bool = False) -> int:
    """Run `start()` (which returns an outcome, or None for a job left running) and report it."""
    try:
        with progress:
            outcome = start()
        return EXIT_OK if outcome is None else _report(outcome, output, last_frame)
    except RenderFailedError as exc:
        job = exc.job
        return fail(f"render failed (job {job.job_id}): {job.error or 'no reason given'}", EXIT_RENDER_FAILED)
    except KodiscError as exc:
        return fail(COMMAND_LINE.say(exc), _exit_code(exc))
    except OSError as exc:
        return fail(f"could not save the video: {exc}", EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        if progress.job_id is None:
            raise  # nothing was submitted: the plain "Interrupted."
        job_id = progress.job_id
        return fail(f"interrupted; job {job_id} goes on: pick it up with `kodisc resume {job_id}`", EXIT_INTERRUPTED)
    finally:
        stop_local_server(wait=False)  # only if this command started the embedded one; the command ends next


def run_render(args: argparse.Namespace) -> int:
    """A .py file (and its class), or notebooks: never a mix."""
    paths = [Path(name) for name in args.files]
    if all(path.suffix.lower() == ".ipynb" for path in paths):
        return _run_notebooks(args, paths)
    if paths[0].suffix.lower() == ".ipynb" or len(paths) > 2 or (len(paths) == 2 and paths[1].suffix):
        return fail("give one FILE.py [ClassName], or only notebooks (NOTEBOOK.ipynb ...)", EXIT_BAD_INPUT)
    batch_only = [flag for flag, value in (("-j", args.jobs), ("--dry-run", args.dry_run)) if value]
    if batch_only:
        return fail(f"{batch_only[0]} applies to notebooks; a .py file renders one scene", EXIT_BAD_INPUT)
    return _run_file(args, paths[0], args.files[1] if len(paths) == 2 else None)


def _run_notebooks(args: argparse.Namespace, notebooks: list[Path]) -> int:
    from .batch import prerender

    file_only = [flag for flag, value in (("-q", args.quality), ("--aspect", args.aspect), ("--fps", args.fps),
                                          ("-o", args.output), ("--no-wait", args.no_wait),
                                          ("-s", args.save_last_frame)) if value]
    if file_only:
        return fail(f"{file_only[0]} applies to a .py file; a notebook's cells render with their own options and "
                     "%config Kodisc.* (so that executing the notebook finds them cached)", EXIT_BAD_INPUT)
    return prerender(notebooks, jobs=args.jobs, force=args.force, dry_run=args.dry_run, backend_choice=args.backend)


def _run_file(args: argparse.Namespace, file: Path, class_name: str | None) -> int:
    try:
        code = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return fail(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}", EXIT_BAD_INPUT)
    suffix = ".png" if args.save_last_frame else ".mp4"
    if args.output is not None and args.output.suffix.lower() != suffix:
        return fail(f"-o must name a {suffix} file{' with -s' if args.save_last_frame else ''}; got {args.output}",
                    EXIT_BAD_INPUT)
    if args.save_last_frame and args.no_wait:
        return fail("-s saves the finished render's last frame: leave out --no-wait", EXIT_BAD_INPUT)
    request = pipeline.RenderRequest(code=code, class_name=class_name, quality=args.quality or DEFAULT_QUALITY,
                                     aspect_ratio=args.aspect or DEFAULT_ASPECT_RATIO, fps=args.fps, force=args.force,
                                     unit="file")
    progress = ProgressLine(sys.stderr)

    def start() -> Any:
        session.current().use_scene_files(file.parent)  # ImageMobject("diagram.png") beside FILE.py (local only)
        backend = resolve_backend(args.backend or "auto", hints=COMMAND_LINE)
        if args.no_wait and backend.name == "local":
            raise ValidationError("--no-wait needs Kodisc: the local server stops when this command exits "
                                  "(set KODISC_API_KEY, or leave out --no-wait)", field="no_wait")
        if backend.notice:
            print(backend.notice, file=sys.stderr)
        flow = pipeline.RenderFlow(request, backend, observers=[progress])
        flow.check()
        for warning in flow.warnings:  # before anything is sent, as the notebook shows them
            print(f"kodisc: warning: {redact(warning)}", file=sys.stderr)
        if not args.no_wait:
            return pipeline.run(flow)
        outcome = pipeline.submit(flow)
        if outcome is None:
            assert flow.job is not None  # submitted, not cached
            print(f"Submitted job {flow.job.job_id}; pick it up with: kodisc resume {flow.job.job_id}")
        return outcome

    return _run_flow(progress, args.output, start, last_frame=args.save_last_frame)


def run_resume(args: argparse.Namespace) -> int:
    """Follow a job of the local history to its end (the API cannot say which class a bare id renders)."""
    progress = ProgressLine(sys.stderr)

    def start() -> Any:
        flow = pipeline.resume_flow(args.job_id, history=pipeline.history(), observers=[progress], hints=COMMAND_LINE)
        return pipeline.resume(flow)

    return _run_flow(progress, args.output, start)

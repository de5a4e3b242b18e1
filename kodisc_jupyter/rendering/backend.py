"""Which Kodisc a render goes to: the real service (a key is configured) or the embedded local server.

`resolve_backend("auto")` picks Kodisc when a key is set (env `KODISC_API_KEY` / `KODISC_KEY`
or the saved credentials), else the local Kodisc-compatible server started once per process in a
background thread (its data under `data_dir()/server`, so a restarted kernel finds its old jobs),
provided Manim is installed. `"cloud"` and `"local"` force one or the other. Its messages tell
the user what to type where they are: `NOTEBOOK` hints (the default) or `COMMAND_LINE` ones.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .._choices import BACKEND_CHOICES
from ..contract._errors import AuthenticationError, ValidationError
from ..contract._rules import key_prefix
from . import session

if TYPE_CHECKING:
    from ..client import AsyncKodisc, Kodisc, PollPolicy

__all__ = ["Backend", "Hints", "NOTEBOOK", "COMMAND_LINE", "resolve_backend", "local_poll_policy", "backend_for",
           "stop_local_server", "CHOICES", "LOCAL_NOTICE"]

CHOICES = BACKEND_CHOICES


@dataclass(frozen=True)
class Hints:
    """What to type next where the user is (`%kodisc_login` is no shell command): backend messages and
    the advice of client errors that carry a `next_step` are said in these words."""

    set_key: str
    use_local: str
    jobs: str  # where past jobs are listed
    credits: str  # where the balance is shown
    resume: str  # how to pick a job up later ({job_id})

    def local_notice(self) -> str:
        return f"Rendering locally with Manim (free, offline). To use Kodisc: {self.set_key}."

    def say(self, exc: BaseException) -> str:
        """`exc`'s one line, its advice in these words (the client's own text is for scripts)."""
        step = getattr(exc, "next_step", None)
        advice = {
            "set_key": self.set_key,
            "check_jobs": f"check {self.jobs} before submitting again",
            "past_jobs": f"check the job id (past jobs: {self.jobs}) and that you use the key that created it",
            "credits": f"top up your credits or wait for the monthly free-credit reset (see {self.credits})",
            "resume": f"pick it up later with {self.resume.format(job_id=getattr(exc, 'job_id', 'JOB_ID'))}",
        }.get(step or "")
        return f"{exc.summary} -- {advice}." if advice else str(exc)  # type: ignore[attr-defined]


NOTEBOOK = Hints(set_key="set KODISC_API_KEY or run %kodisc_login", use_local="%config Kodisc.backend = 'local'",
                 jobs="%kodisc_jobs", credits="%kodisc_credits", resume="%kodisc_resume {job_id}")
COMMAND_LINE = Hints(set_key="set KODISC_API_KEY (or save a key with %kodisc_login in a notebook)",
                     use_local="--backend local", jobs="`kodisc jobs`", credits="`kodisc me`",
                     resume="`kodisc resume {job_id}`")
LOCAL_NOTICE = NOTEBOOK.local_notice()
_INSTALL_HINT = "pip install 'kodisc-jupyter[server]'"



@dataclass(frozen=True)
class Backend:
    """Where renders go. `name` is "kodisc" or "local"; the key itself is never shown (repr=False)."""

    name: str
    base_url: str
    key_prefix: str | None
    notice: str | None = None
    _api_key: str = field(default="", repr=False)
    #: The folder the embedded server's renders read (the notebook's; see `Session.use_scene_files`), else None
    #: and, for the embedded server, why not.
    scene_files: Path | None = None
    scene_files_problem: str | None = None

    @property
    def label(self) -> str:
        """Short human name for status lines: "Kodisc" or "local"."""
        return "Kodisc" if self.name == "kodisc" else "local"

    def client(self) -> Kodisc:
        """A new synchronous client for this backend (the caller closes it)."""
        from ..client import Kodisc

        return Kodisc(self._api_key or None, base_url=self.base_url, poll_policy=self._poll_policy())

    def async_client(self) -> AsyncKodisc:
        """A new asynchronous client for this backend (the caller closes it)."""
        from ..client import AsyncKodisc

        return AsyncKodisc(self._api_key or None, base_url=self.base_url, poll_policy=self._poll_policy())

    def _poll_policy(self) -> PollPolicy | None:
        return local_poll_policy() if self.name == "local" else None


def local_poll_policy() -> PollPolicy:
    """Kodisc gets the client's default (<= 1 request/s); the embedded server is ours, on loopback,
    where a poll costs about 2 ms, so a finished local render is noticed within ~0.05 s."""
    from ..client import PollPolicy

    return PollPolicy(rate=10.0, burst=10.0, steady_interval=0.1, dense_interval=0.04)


def resolve_backend(choice: str = "auto", *, hints: Hints = NOTEBOOK, start: bool = True) -> Backend:
    """The backend for `choice` ("auto" | "cloud" | "local"); raises a one-line error when none fits.

    `start=False` names the backend without starting the embedded server (enough for cache keys)."""
    if choice not in CHOICES:

        raise ValidationError(f"backend must be one of {', '.join(CHOICES)}; got {choice!r}.", field="backend")
    if choice == "local":
        return _local_backend(notice=None, start=start)
    key = _configured_key()
    if key:
        return _cloud_backend(key)
    if choice == "cloud":

        raise AuthenticationError(
            f"No Kodisc API key: {hints.set_key} (or render locally: {hints.use_local}).")
    if importlib.util.find_spec("manim") is None:

        raise AuthenticationError(
            f"No Kodisc API key and no local Manim: {hints.set_key}; or {_INSTALL_HINT} to render locally for free.")
    return _local_backend(notice=hints.local_notice(), start=start)


def backend_for(name: str, base_url: str, *, hints: Hints = NOTEBOOK) -> Backend:
    """The backend a recorded job belongs to (for resume): the embedded server is found again by name."""
    if name == "local":
        return _local_backend(notice=None)

    key = _configured_key()
    if not key:
        raise AuthenticationError(
            f"This job was made on Kodisc but no key is configured: {hints.set_key}.")
    return _cloud_backend(key, base_url=base_url)


def stop_local_server(*, wait: bool = True) -> None:
    """Stop the embedded server if this process started one (the next local render starts it again);
    `wait=False` when the process exits next (see `LocalServer.stop`)."""
    session.current().stop_local_server(wait=wait)


def _configured_key() -> str | None:
    from ..client._client import resolve_base_url
    from ..client._credentials import resolve_api_key

    return resolve_api_key(None, resolve_base_url(None))


def _cloud_backend(key: str, *, base_url: str | None = None) -> Backend:
    from ..client._client import resolve_base_url

    return Backend("kodisc", resolve_base_url(base_url), key_prefix(key), None, key)


def _local_backend(*, notice: str | None, start: bool = True) -> Backend:
    if importlib.util.find_spec("manim") is None:

        raise ValidationError(f"The local backend needs Manim: {_INSTALL_HINT}.", field="backend")
    if not start:  # enough for cache keys, which include the files beside the notebook
        files, problem = session.current().scene_files()
        return Backend("local", "", None, notice, scene_files=files, scene_files_problem=problem)
    server = session.current().local_server()
    return Backend("local", server.base_url.rstrip("/"), key_prefix(server.api_key), notice, server.api_key,
                   server.scene_files, server.scene_files_problem)

"""The Starlette app: the contract's three API routes, the asset files, and JSON errors everywhere.

Every non-2xx answer is `{"error": ..., "message": ...}`. Request bodies are validated with the
client's own `validate_render_body`, after the size cap is enforced on the raw bytes (the
declared Content-Length and the bytes actually streamed) so an oversized body is never parsed.
The store is SQLite behind a lock: every call to it runs in a thread (`asyncio.to_thread`), never
on the event loop that serves the other requests and follows the renders.
"""
from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, MalformedRangeHeader, RangeNotSatisfiable, Response
from starlette.routing import Route

from .._files import MEDIA_TYPES
from .._logging import get_logger
from .._redact import redact
from ..contract._errors import ValidationError
from ..contract._rules import KEY_RE, MAX_BODY_BYTES, QUALITIES, check_json_depth, validate_render_body
from ._delivery import webhook_url_problem
from ._jobs import JobRunner
from ._store import InsufficientCredits, KeyRecord, Store, is_job_id
from ._views import account_view, job_view

if TYPE_CHECKING:
    from ._hub import HubUsers

logger = get_logger("kodisc_jupyter.server")  # with the redaction filter, like every package logger
#: On every /r/ answer: any page may load the media, and no browser guesses a type other than the one sent
#: (a scene's file is never run as HTML or script, whatever its bytes).
MEDIA_HEADERS = {"Access-Control-Allow-Origin": "*", "X-Content-Type-Options": "nosniff"}
_STATUS_ERRORS = {400: "invalid_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}


class APIProblem(Exception):
    """Raised by a handler to answer `status` with the contract's error body."""

    def __init__(self, status: int, error: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.extra = status, error, message, extra


def error_response(status: int, error: str, message: str, headers: dict | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, "message": message, **extra}, status_code=status, headers=headers)


def create_app(store: Store, runner: JobRunner, *, files_dir: Path, public_url: str,
               allow_http_webhooks: bool, lifespan=None, hub: HubUsers | None = None) -> Starlette:
    """`hub`: also accept JupyterHub tokens (`Authorization: token <t>` or `Bearer <t>`) as their hub user."""
    async def authenticate(request: Request) -> KeyRecord:
        header = request.headers.get("authorization")
        if not header:
            raise APIProblem(401, "unauthorized", "Missing API key: send `Authorization: Bearer kdsc_live_...`.")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if hub is not None and scheme.lower() in ("token", "bearer") and token and not token.startswith("kdsc_"):
            return await hub.key_for(token)
        if scheme.lower() != "bearer" or not KEY_RE.fullmatch(token):
            raise APIProblem(401, "unauthorized", "Malformed API key: expected `Authorization: Bearer kdsc_live_` "
                                                  "followed by 48 lowercase hex characters.")
        key = await asyncio.to_thread(store.authenticate, token)
        if key is None:
            raise APIProblem(401, "unauthorized", "Unknown API key: it was revoked or never existed here; "
                                                  "use a key this server created.")
        return key

    async def create_render(request: Request) -> Response:
        key = await authenticate(request)
        body = validate(await read_json(request))
        quality = body["quality"]
        reserve = runner.renderer.reserve(quality)
        url = body.get("webhookUrl", key.default_webhook_url)
        problem = url and "webhookUrl" not in body and webhook_url_problem(url, allow_http=allow_http_webhooks)
        if problem:  # set while the server ran with other flags, or through the Python API
            logger.warning("not delivering to the default webhook of %s: this server refuses its URL (http:// needs "
                           "--allow-http-webhooks; internal addresses are never reached)", key.prefix)
            url = None
        try:
            job = await asyncio.to_thread(store.create_job, key, body, fps=body.get("fps", QUALITIES[quality][2]),
                                          webhook_url=url, reserve=reserve, server_id=runner.instance.id)
        except InsufficientCredits:
            paid, free = await asyncio.to_thread(store.balance, key.user_id)
            raise APIProblem(402, "insufficient_credits",
                             f"Not enough credits to start a render: a {quality} render reserves "
                             f"{reserve} credits and the balance is {paid + free}. Add credits or wait "
                             "for the monthly free allowance.") from None
        runner.submit(job)
        return JSONResponse({"jobId": job.job_id, "status": job.status, "endpoint": "render"}, status_code=202)

    def validate(raw: Any) -> dict[str, Any]:
        try:
            body = validate_render_body(raw, allow_http_webhook=allow_http_webhooks)
        except ValidationError as exc:
            raise APIProblem(400, "invalid_request", str(exc), field=exc.field) from None
        url = body.get("webhookUrl")
        problem = url and webhook_url_problem(url, allow_http=allow_http_webhooks)
        if problem:
            raise APIProblem(400, "invalid_request", problem, field="webhookUrl")
        return body

    async def get_render(request: Request) -> Response:
        key = await authenticate(request)
        job_id = request.path_params["job_id"]
        if not is_job_id(job_id):  # not echoed: it could be anything the caller pasted
            raise APIProblem(404, "not_found", "No such job: job ids are 25 lowercase letters and digits.")
        job = await asyncio.to_thread(store.get_job, job_id, key.user_id)
        if job is None:
            raise APIProblem(404, "not_found", f"No job {job_id} for this key: check the job id and the key.")
        job = runner.shown(job)
        progress = await runner.progress(job_id) if job.status == "running" else None
        return JSONResponse(job_view(job, public_url, progress=progress))

    async def me(request: Request) -> Response:
        key = await authenticate(request)
        return JSONResponse(account_view(key, *await asyncio.to_thread(store.balance, key.user_id)))

    async def asset(request: Request) -> Response:
        job_id, name = request.path_params["job_id"], request.path_params["name"]
        fd = open_asset(files_dir, job_id, name) if is_job_id(job_id) and name in MEDIA_TYPES else None
        if fd is None:
            return error_response(404, "not_found", "No such file: assets are /r/<jobId>/video.mp4, thumb.jpg "
                                                    "or captions.vtt of a completed job.", headers=MEDIA_HEADERS)
        return _OpenFileResponse(fd, media_type=MEDIA_TYPES[name], headers={**MEDIA_HEADERS, "Cache-Control": "max-age=3600"})

    async def asset_preflight(request: Request) -> Response:
        return Response(status_code=204, headers={**MEDIA_HEADERS, "Access-Control-Allow-Methods": "GET, HEAD",
                                                  "Access-Control-Allow-Headers": "Range",
                                                  "Access-Control-Max-Age": "86400"})

    async def on_problem(request: Request, exc: APIProblem) -> Response:
        return error_response(exc.status, exc.error, exc.message, **exc.extra)

    async def on_http_exception(request: Request, exc: HTTPException) -> Response:
        path = redact(request.url.path)  # a key pasted into a URL is not echoed back
        messages = {404: f"{path} does not exist on this server; check the base URL (…/api/v2).",
                    405: f"{request.method} is not allowed on {path}."}
        return error_response(exc.status_code, _STATUS_ERRORS.get(exc.status_code, "error"),
                              messages.get(exc.status_code, str(exc.detail)), headers=dict(exc.headers or {}))

    async def on_error(request: Request, exc: Exception) -> Response:
        return error_response(500, "server_error", "The local server hit an unexpected error; retry, and report "
                                                   "it if it persists.")

    routes = [
        Route("/api/v2/render", create_render, methods=["POST"]),
        Route("/api/v2/render/{job_id}", get_render, methods=["GET"]),
        Route("/api/v2/me", me, methods=["GET"]),
        Route("/r/{job_id}/{name}", asset, methods=["GET", "HEAD"]),
        Route("/r/{job_id}/{name}", asset_preflight, methods=["OPTIONS"]),
    ]
    handlers: dict[Any, Any] = {APIProblem: on_problem, HTTPException: on_http_exception, Exception: on_error}
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
    app.router.redirect_slashes = False  # `/me/` is a JSON 404 like Kodisc, not a bodiless 307
    return app


def open_asset(files_dir: Path, job_id: str, name: str) -> int | None:
    """An open descriptor of `files_dir/job_id/name`, or None: no link is followed, only a regular file is served."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        folder = os.open(files_dir / job_id, flags | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None
    try:
        fd = os.open(name, flags | getattr(os, "O_NONBLOCK", 0), dir_fd=folder)  # a FIFO must not block us
    except OSError:
        return None
    finally:
        os.close(folder)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


class _OpenFileResponse(FileResponse):
    """A FileResponse of a descriptor opened (and checked) already: reading it never resolves a path again."""

    def __init__(self, fd: int, **options: Any) -> None:
        super().__init__(f"/dev/fd/{fd}", stat_result=os.fstat(fd), **options)
        self.fd = fd

    async def __call__(self, scope, receive, send) -> None:
        try:
            await (self._range_problem(scope) or super().__call__)(scope, receive, send)
        finally:
            os.close(self.fd)

    def _range_problem(self, scope) -> Response | None:
        """A JSON 400/416 for a Range header Starlette would refuse (it answers those in plain text)."""
        headers = Headers(scope=scope)
        http_range, if_range = headers.get("range"), headers.get("if-range")
        if http_range is None or (if_range is not None and not self._should_use_range(if_range)):
            return None
        size = self.stat_result.st_size if self.stat_result else 0
        try:
            self._parse_range_header(http_range, size)
        except MalformedRangeHeader as exc:
            return error_response(400, "invalid_request", f"{exc.content.rstrip('.')}: send `Range: bytes=START-END` "
                                                          "with START below the file size.", headers=MEDIA_HEADERS)
        except RangeNotSatisfiable as exc:
            return error_response(416, "range_not_satisfiable", f"The file has {exc.max_size} bytes; ask for a "
                                  "range starting below that.", headers={**MEDIA_HEADERS, "Content-Range": f"bytes */{exc.max_size}"})
        except ValueError:  # a part Starlette cannot read as numbers
            return error_response(400, "invalid_request", "Malformed Range header: send `Range: bytes=START-END`.",
                                  headers=MEDIA_HEADERS)
        return None


async def read_json(request: Request) -> Any:
    """The request's JSON, refusing more than MAX_BODY_BYTES before anything is parsed."""
    too_big = APIProblem(400, "invalid_request", f"body is over the {MAX_BODY_BYTES}-byte limit; shorten code "
                                                 "or metadata.", field="body")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_big
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        check_json_depth(raw)
    except ValidationError as exc:
        raise APIProblem(400, "invalid_request", str(exc), field=exc.field) from None
    try:
        return json.loads(raw)
    except ValueError as exc:  # UnicodeDecodeError included
        raise APIProblem(400, "invalid_request", f"body is not valid JSON ({exc}); send a JSON object.",
                         field="body") from None

"""JupyterHub sign-in (`kodisc serve --jupyterhub`): the server as a hub-managed service.

The hub starts the service with `JUPYTERHUB_API_URL`, `JUPYTERHUB_SERVICE_NAME`,
`JUPYTERHUB_SERVICE_PREFIX` (the hub's proxy keeps that prefix on every path) and
`JUPYTERHUB_SERVICE_URL` (where to listen). A request's `Authorization: token <t>` (or
`Bearer <t>`) that is no Kodisc key is asked of the hub (`GET {api}/user` with that token, as
JupyterHub's own `HubAuth` does); the answer is cached for `ttl` seconds, by the token's hash.
The token must carry `access:services!service=<name>` (or `access:services`). A hub user becomes a
server user on first use, with `credits_per_user` paid credits; `hub_users.sqlite3` maps the two.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from .._logging import get_logger
from .._sqlite import migrate
from ._app import APIProblem, error_response
from ._store import KeyRecord, Store

logger = get_logger("kodisc_jupyter.server")
DEFAULT_TTL = 60.0
_MAX_CACHED = 10_000
_SCHEMA = "CREATE TABLE hub_users (name TEXT PRIMARY KEY, user_id TEXT NOT NULL, key_id TEXT NOT NULL)"
USERS_FILE = "hub_users.sqlite3"
_PRINTABLE = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True)
class HubSettings:
    """What the hub tells a managed service, from its environment."""

    api_url: str
    service_name: str
    prefix: str  # e.g. /services/kodisc (no trailing slash)
    service_url: str | None  # where the hub expects us to listen
    public_url: str | None  # the hub's public URL of this service, when the hub knows it

    @classmethod
    def from_env(cls) -> HubSettings:
        missing = [name for name in ("JUPYTERHUB_API_URL", "JUPYTERHUB_SERVICE_PREFIX") if not os.environ.get(name)]
        if missing:
            raise ValueError(f"--jupyterhub runs as a hub-managed service, but {' and '.join(missing)} "
                             f"{'is' if len(missing) == 1 else 'are'} not set: add `kodisc serve --jupyterhub` to "
                             "c.JupyterHub.services (docs/server.md).")
        prefix = "/" + os.environ["JUPYTERHUB_SERVICE_PREFIX"].strip("/")
        public = os.environ.get("JUPYTERHUB_PUBLIC_URL") or None
        return cls(os.environ["JUPYTERHUB_API_URL"].rstrip("/"), os.environ.get("JUPYTERHUB_SERVICE_NAME", "kodisc"),
                   prefix, os.environ.get("JUPYTERHUB_SERVICE_URL") or None, public and public.rstrip("/"))

    def listen_address(self) -> tuple[str, int] | None:
        """(host, port) of JUPYTERHUB_SERVICE_URL, where the hub's proxy sends this service's requests."""
        if not self.service_url:
            return None
        parts = urlsplit(self.service_url)
        return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)

    def students_url(self, bound: str) -> str:
        """The URL students use: the hub's public one of this service, else this server's own (`bound` + prefix)."""
        return self.public_url or f"{bound}{self.prefix}"


class HubUsers:
    """Hub tokens to server users (see the module docstring)."""

    def __init__(self, settings: HubSettings, store: Store, data_dir: Path, *, credits_per_user: int,
                 ttl: float = DEFAULT_TTL, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings, self.store, self.credits_per_user, self.ttl = settings, store, credits_per_user, ttl
        self._access = {"access:services", f"access:services!service={settings.service_name}"}
        self._http = httpx.AsyncClient(transport=transport, timeout=10.0)
        self._known: dict[str, tuple[str, float]] = {}  # sha256(token) -> (hub user, expiry)
        self._joining = asyncio.Lock()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(data_dir / USERS_FILE, check_same_thread=False, isolation_level=None, timeout=10)
        migrate(self._db, (_SCHEMA,))

    async def aclose(self) -> None:
        await self._http.aclose()
        with self._lock:
            self._db.close()

    async def key_for(self, token: str) -> KeyRecord:
        """The server key of the hub user owning `token`, or an APIProblem (401 unknown, 403 no access, 503 hub down)."""
        name = await self._hub_user(token)
        async with self._joining:  # one server user per hub user, also when their first requests race
            key_id = await asyncio.to_thread(self._key_id, name)
            if key_id is None:
                creds = await asyncio.to_thread(self.store.create_user, self.credits_per_user)
                await asyncio.to_thread(self._join, name, creds.user_id, creds.key_id)
                logger.info("hub user %s joined with %d credits", name, self.credits_per_user)
                key_id = creds.key_id
        return await asyncio.to_thread(self.store.key_by_id, key_id)

    async def _hub_user(self, token: str) -> str:
        if len(token) > 512 or not _PRINTABLE.fullmatch(token):
            raise APIProblem(401, "unauthorized", "Malformed token: send `Authorization: token <your JupyterHub "
                                                  "token>` or a Kodisc key.")
        digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
        now = time.monotonic()
        known = self._known.get(digest)
        if known is not None and known[1] > now:
            return known[0]
        try:
            response = await self._http.get(f"{self.settings.api_url}/user", headers={"Authorization": f"token {token}"})
        except httpx.HTTPError as exc:
            raise APIProblem(503, "hub_unavailable", f"JupyterHub could not be reached to check this token "
                                                     f"({type(exc).__name__}); retry in a moment.") from None
        if response.status_code in (401, 403, 404):
            raise APIProblem(401, "unauthorized", "Unknown JupyterHub token: it was revoked, expired or never existed; "
                                                  "restart your server from the hub's home page.")
        model = _json_object(response)
        if response.status_code != 200 or model is None or not isinstance(model.get("name"), str):
            raise APIProblem(503, "hub_unavailable", f"JupyterHub answered {response.status_code} when checking this "
                                                     "token; retry in a moment.")
        scopes = model.get("scopes")
        if not isinstance(scopes, list) or not self._access & set(scopes):
            raise APIProblem(403, "forbidden", f"This JupyterHub token may not use the {self.settings.service_name} "
                                               f"service: the hub must grant access:services!service="
                                               f"{self.settings.service_name} to users' server tokens "
                                               "(docs/server.md, Running a class).")
        if len(self._known) >= _MAX_CACHED:
            self._known = {key: value for key, value in self._known.items() if value[1] > now}
        self._known[digest] = (model["name"], now + self.ttl)
        return model["name"]

    def _key_id(self, name: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT key_id FROM hub_users WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def _join(self, name: str, user_id: str, key_id: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO hub_users VALUES (?, ?, ?)", (name, user_id, key_id))


def hub_names(data_dir: Path) -> dict[str, str]:
    """Server user id -> hub user name, for reports (empty when no hub user ever signed in)."""
    path = data_dir / USERS_FILE
    if not path.is_file():
        return {}
    db = sqlite3.connect(path)
    try:
        return {user_id: name for name, user_id in db.execute("SELECT name, user_id FROM hub_users")}
    except sqlite3.OperationalError:  # a file without the table yet
        return {}
    finally:
        db.close()


def _json_object(response: httpx.Response) -> dict | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class UnderPrefix:
    """Serves `app` under `prefix` (the hub's proxy keeps it on every path); anything else is a JSON 404."""

    def __init__(self, app, prefix: str) -> None:
        self.app, self.prefix = app, prefix.rstrip("/")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            if path != self.prefix and not path.startswith(self.prefix + "/"):
                if scope["type"] == "http":
                    response = error_response(404, "not_found", f"This server answers under {self.prefix}/api/v2; "
                                                                "check the base URL.")
                    await response(scope, receive, send)
                return
            raw = scope.get("raw_path") or path.encode("utf-8")
            scope = {**scope, "path": path[len(self.prefix):] or "/", "raw_path": raw[len(self.prefix):] or b"/"}
        await self.app(scope, receive, send)

"""The saved API key: one small JSON file, mode 0600, under `config_dir()` (or `KODISC_HOME`).

The file holds the key itself (the service only keeps a hash, so a saved copy is the user's
only one); nothing else in the package ever writes it anywhere.

In a JupyterHub user's kernel whose `KODISC_BASE_URL` is a hub service (`.../services/<name>/...`),
the kernel's own `JUPYTERHUB_API_TOKEN` signs in when no key is set: the class's Kodisc gateway
knows the user by it (docs/server.md, Running a class). It goes nowhere else.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from urllib.parse import urlsplit

from .._files import write_atomic
from .._paths import config_dir
from ..contract._errors import ValidationError
from ..contract._rules import KEY_RE

FILENAME = "credentials.json"

__all__ = ["credentials_path", "forget_key", "load_key", "resolve_api_key", "save_key"]


def credentials_path() -> Path:
    """Where `save_key()` writes: `<config_dir>/credentials.json`."""
    return config_dir() / FILENAME


def save_key(api_key: str) -> Path:
    """Store `api_key` (owner-only file) for later sessions; returns the file's path."""
    key = api_key.strip() if isinstance(api_key, str) else ""
    if not KEY_RE.fullmatch(key):
        raise ValidationError("That is not a Kodisc API key (kdsc_live_ followed by 48 lowercase hex "
                              "characters); copy it again from your Kodisc dashboard.", field="api_key")
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return write_atomic(path, json.dumps({"api_key": key}), mode=0o600)


def load_key() -> str | None:
    """The saved key, or None when there is none (or the file is unreadable: warns once per call)."""
    path = credentials_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        warnings.warn(f"Ignoring unreadable Kodisc credentials file {path} ({type(exc).__name__}); "
                      "save the key again.", RuntimeWarning, stacklevel=2)
        return None
    key = data.get("api_key") if isinstance(data, dict) else None
    return key if isinstance(key, str) and key else None


def forget_key() -> bool:
    """Delete the saved key; True if there was one."""
    try:
        credentials_path().unlink()
    except FileNotFoundError:
        return False
    return True


def resolve_api_key(explicit: str | None, base_url: str | None = None) -> str | None:
    """The argument, else $KODISC_API_KEY, else $KODISC_KEY, else the hub token for a hub service's
    `base_url` (see the module docstring), else the saved credentials file."""
    if explicit is not None and not isinstance(explicit, str):
        raise ValidationError(f"api_key must be a string; got {type(explicit).__name__}.", field="api_key")
    for candidate in (explicit, os.environ.get("KODISC_API_KEY"), os.environ.get("KODISC_KEY"),
                      hub_token_for(base_url)):
        if candidate and candidate.strip():
            return candidate.strip()
    return load_key()


def hub_token_for(base_url: str | None) -> str | None:
    """$JUPYTERHUB_API_TOKEN when `base_url` is a service of this kernel's hub (under $JUPYTERHUB_BASE_URL)."""
    token = os.environ.get("JUPYTERHUB_API_TOKEN")
    if not token or not base_url:
        return None
    services = os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/services/"
    try:
        path = urlsplit(base_url).path
    except ValueError:
        return None
    return token if path.startswith(services) else None

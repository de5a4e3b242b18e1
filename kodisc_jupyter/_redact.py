"""Keys never leave the process: only their display prefix may be shown or logged."""
from __future__ import annotations

import re

KEY_PREFIX_LENGTH = 14
#: Anything that looks like a key, well-formed or not: what log and error redaction removes.
KEY_LIKE_RE = re.compile(r"kdsc_live_[0-9A-Za-z]+")


def key_prefix(key: str) -> str:
    """The only part of a key that may be shown or logged, e.g. `kdsc_live_9c1d`; nothing of another
    token (a JupyterHub one signs in to a class's gateway) is shown."""
    return key[:KEY_PREFIX_LENGTH] if key.startswith("kdsc_") else "hub-token"


def redact(text: str) -> str:
    """Replace anything key-like in `text` by its display prefix followed by `…` (idempotent: a shown prefix stays)."""
    def shown(match: re.Match[str]) -> str:
        key = match.group()
        if len(key) <= KEY_PREFIX_LENGTH and match.string.startswith("…", match.end()):
            return key
        return key_prefix(key) + "…"

    return KEY_LIKE_RE.sub(shown, text)

"""Save, load and forget the API key (a 0600 file under KODISC_HOME or the user config dir)."""
from __future__ import annotations

from .client._credentials import credentials_path, forget_key, load_key, save_key

__all__ = ["credentials_path", "forget_key", "load_key", "save_key"]

"""Where kodisc-jupyter keeps things: `KODISC_HOME` if set, else the platform's user dirs."""
from __future__ import annotations

import os
from pathlib import Path


def _home() -> Path | None:
    value = os.environ.get("KODISC_HOME")
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    """Saved credentials live here (default: the platformdirs user config dir for `kodisc`)."""
    import platformdirs

    return _home() or platformdirs.user_config_path("kodisc")


def data_dir() -> Path:
    """History, cached media and the embedded server's data (default: the user data dir)."""
    import platformdirs

    return _home() or platformdirs.user_data_path("kodisc")

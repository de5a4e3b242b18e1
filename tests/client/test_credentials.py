"""The saved key: location, permissions, precedence, and errors that never echo the key."""
from __future__ import annotations

import stat
import warnings

import pytest

from kodisc_jupyter.credentials import credentials_path, forget_key, load_key, save_key
from kodisc_jupyter.errors import ValidationError

KEY = "kdsc_live_" + "5e" * 24


def test_save_load_forget(isolated_kodisc_env):
    assert load_key() is None and forget_key() is False
    path = save_key(f"  {KEY}\n")
    assert path == credentials_path() and path.parent == isolated_kodisc_env
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key() == KEY
    assert forget_key() is True and load_key() is None and not path.exists()


def test_an_existing_wide_file_is_narrowed(isolated_kodisc_env):
    path = credentials_path()
    path.write_text("{}")
    path.chmod(0o644)
    save_key(KEY)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("bad", ["", "kdsc_live_123", KEY.upper(), KEY + "0", "sk_live_" + "0" * 48, None, 42,
                                 KEY.encode()])
def test_malformed_keys_are_refused_without_echo(bad):
    with pytest.raises(ValidationError) as caught:
        save_key(bad)
    assert (str(bad)[10:] or "\0") not in str(caught.value)
    assert not credentials_path().exists()


def test_corrupt_file_warns_and_reads_as_no_key():
    credentials_path().write_text("{not json")
    with pytest.warns(RuntimeWarning, match="unreadable .*save the key again"):
        assert load_key() is None
    credentials_path().write_text('["a list"]')
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_key() is None

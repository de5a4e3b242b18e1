"""The redaction filter on the `kodisc_jupyter` loggers."""
from __future__ import annotations

import logging

import pytest

from kodisc_jupyter._logging import get_logger

KEY = "kdsc_live_" + "ab12" * 12


@pytest.mark.parametrize("name", ["kodisc_jupyter", "kodisc_jupyter.client", "kodisc_jupyter.server.anything"])
def test_keys_and_authorization_values_are_redacted(caplog, name):
    caplog.set_level(logging.DEBUG)
    logger = get_logger(name)
    logger.debug("sending %s", {"Authorization": f"Bearer {KEY}", "Accept": "application/json"})
    logger.info("Authorization: Bearer sometoken123")
    logger.warning("key %s leaked; another kdsc_live_DEADbeef99 too", KEY)
    text = caplog.text
    assert KEY not in text and "sometoken123" not in text and "DEADbeef99" not in text
    assert "kdsc_live_ab12…" in text and "application/json" in text
    assert text.count("[redacted]") == 2


def test_the_package_logger_carries_the_filter():
    from kodisc_jupyter._logging import RedactingFilter

    import kodisc_jupyter.client  # noqa: F401  importing the client installs it

    assert any(isinstance(f, RedactingFilter) for f in logging.getLogger("kodisc_jupyter").filters)


def test_loggers_made_elsewhere_are_covered_once_a_client_exists(caplog):
    from kodisc_jupyter import Kodisc

    caplog.set_level(logging.DEBUG)
    elsewhere = logging.getLogger("kodisc_jupyter.somewhere_else")  # not via get_logger
    Kodisc(KEY).close()
    elsewhere.info("using %s", KEY)
    assert KEY not in caplog.text and "kdsc_live_ab12…" in caplog.text


def test_tracebacks_are_redacted_too(caplog):
    caplog.set_level(logging.DEBUG)
    try:
        raise ValueError(f"the scene held {KEY}")
    except ValueError:
        get_logger("kodisc_jupyter.server").exception("job failed")
    assert "ValueError: the scene held kdsc_live_ab12…" in caplog.text and KEY not in caplog.text

"""The redaction filter on the `kodisc_jupyter` loggers."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

import kodisc_jupyter
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
    import kodisc_jupyter.client  # noqa: F401  importing the client installs it
    from kodisc_jupyter._logging import RedactingFilter

    assert any(isinstance(f, RedactingFilter) for f in logging.getLogger("kodisc_jupyter").filters)


def test_every_module_logs_through_get_logger():
    """A logger made with logging.getLogger would miss the filter: only _logging.py may call it."""
    package = Path(kodisc_jupyter.__file__).parent
    bypassing = [str(path.relative_to(package)) for path in package.rglob("*.py")
                 if path.name != "_logging.py" and "logging.getLogger(" in path.read_text()]
    assert bypassing == []


def test_tracebacks_are_redacted_too(caplog):
    caplog.set_level(logging.DEBUG)
    try:
        raise ValueError(f"the scene held {KEY}")
    except ValueError:
        get_logger("kodisc_jupyter.server").exception("job failed")
    assert "ValueError: the scene held kdsc_live_ab12…" in caplog.text and KEY not in caplog.text


def test_quiet_logs_drops_our_and_the_http_stacks_records_inside_only(caplog):
    """What a render in a cell runs inside: a root handler at DEBUG (as Manim's at INFO) gets none of them."""
    import threading

    import httpx

    from kodisc_jupyter._logging import quiet_logs

    caplog.set_level(logging.DEBUG)
    ours = get_logger("kodisc_jupyter.rendering.pipeline")
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200)))
    with quiet_logs():
        client.get("http://kodisc.test/inside")
        logging.getLogger("httpcore.http11").debug("inside: send_request_headers")
        ours.info("inside: info")
        ours.warning("inside: warning")
        ours.error("inside: a bug of ours")
        logging.getLogger("notebook.user").info("inside: the user's own record")
        other = threading.Thread(target=lambda: ours.info("another thread, outside the scope"))
        other.start()
        other.join()
    client.get("http://kodisc.test/outside")
    ours.info("outside: info")
    shown = [record.getMessage() for record in caplog.records]
    assert not [message for message in shown if "inside:" in message and "bug" not in message and "user" not in message]
    assert "inside: a bug of ours" in shown and "inside: the user's own record" in shown
    assert "another thread, outside the scope" in shown and "outside: info" in shown
    assert any("HTTP Request: GET http://kodisc.test/outside" in message for message in shown)
    assert not any("/inside" in message for message in shown)


def test_quiet_logs_covers_every_logger_of_the_http_stack():
    """httpcore logs to child loggers, each needing the filter itself: a new one must be listed."""
    import re
    import sys

    import httpcore
    import httpx

    from kodisc_jupyter._logging import HTTP_LOGGERS

    names = set()
    for package in (httpx, httpcore):
        for path in Path(package.__file__).parent.rglob("*.py"):
            names.update(re.findall(r"""logging\.getLogger\(["']([\w.]+)["']\)""", path.read_text()))
    assert names and names <= set(HTTP_LOGGERS), sys.modules["httpcore"].__version__

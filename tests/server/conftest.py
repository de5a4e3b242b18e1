"""Fixtures for the server tests (helpers live in server_helpers.py)."""
from __future__ import annotations

import pytest
from server_helpers import Api, WebhookReceiver


@pytest.fixture
def make_api():
    """`make_api(server, api_key=None) -> Api`; closed after the test."""
    made: list[Api] = []

    def make(server, api_key: str | None = None) -> Api:
        made.append(Api(server, api_key))
        return made[-1]

    yield make
    for client in made:
        client.http.close()


@pytest.fixture
def api(sim_server, make_api):
    return make_api(sim_server)


@pytest.fixture
def other_api(sim_server, make_api):
    """A second user (no paid credits) of the same server."""
    return make_api(sim_server, sim_server.create_user().api_key)


@pytest.fixture
def make_receiver():
    """`make_receiver(statuses=()) -> WebhookReceiver` on a loopback port; closed after the test."""
    made: list[WebhookReceiver] = []

    def make(statuses=()) -> WebhookReceiver:
        made.append(WebhookReceiver(statuses))
        return made[-1]

    yield make
    for hook in made:
        hook.close()

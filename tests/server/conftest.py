"""Fixtures for the server tests (helpers live in server_helpers.py)."""
from __future__ import annotations

import pytest
from server_helpers import User, WebhookReceiver


@pytest.fixture
def make_user():
    """`make_user(server, api_key=None, **client_options) -> User`; closed after the test."""
    made: list[User] = []

    def make(server, api_key: str | None = None, **client_options) -> User:
        made.append(User(server, api_key, **client_options))
        return made[-1]

    yield make
    for user in made:
        user.close()


@pytest.fixture
def owner(sim_server, make_user):
    """The first user of the session's simulate server."""
    return make_user(sim_server)


@pytest.fixture
def stranger(sim_server, make_user):
    """A second user (no paid credits) of the same server."""
    return make_user(sim_server, sim_server.create_user().api_key)


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

"""`make_client`: one fixture parametrized over Kodisc and AsyncKodisc, so each case runs
through both clients without a copy."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from client_helpers import BASE_URL, KEY, Recorder, SyncFacade, VirtualClock

from kodisc_jupyter import AsyncKodisc, Kodisc


@pytest.fixture(params=["sync", "async"])
def make_client(request):
    """make_client(handler, **kwargs) -> (client, recorder, clock); the client's methods are blocking."""
    loop = asyncio.new_event_loop()
    made: list[Any] = []

    def factory(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any):
        recorder = Recorder(handler)
        clock = VirtualClock()
        kwargs.setdefault("api_key", KEY)
        kwargs.setdefault("base_url", BASE_URL)
        transport = httpx.MockTransport(recorder)
        if request.param == "sync":
            client: Any = Kodisc(transport=transport, sleep=clock.sleep, clock=clock, **kwargs)
        else:
            client = SyncFacade(AsyncKodisc(transport=transport, sleep=clock.async_sleep, clock=clock, **kwargs), loop)
        made.append(client)
        return client, recorder, clock

    factory.mode = request.param  # type: ignore[attr-defined]
    yield factory
    for client in made:
        client.close()
    loop.close()

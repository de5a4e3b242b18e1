"""The client over real loopback HTTP against our local Kodisc (simulated renderer)."""
from __future__ import annotations

import asyncio

import pytest
from client_helpers import SyncFacade

from kodisc_jupyter import AsyncKodisc, Kodisc
from kodisc_jupyter.client import RetryPolicy
from kodisc_jupyter.errors import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    InsufficientCreditsError,
    NotFoundError,
    RenderFailedError,
    ValidationError,
)

SCENE = "from manim import *\nclass Hello(Scene):\n    def construct(self):\n        self.add(Circle())\n"


@pytest.fixture(params=["sync", "async"])
def connect(request, sim_server):
    """connect(api_key=the server's key) -> a blocking client (Kodisc, or AsyncKodisc behind a facade)."""
    loop = asyncio.new_event_loop()
    made = []

    def factory(api_key=None, **kwargs):
        key = api_key or sim_server.api_key
        if request.param == "sync":
            client = Kodisc(key, base_url=sim_server.base_url, **kwargs)
        else:
            client = SyncFacade(AsyncKodisc(key, base_url=sim_server.base_url, **kwargs), loop)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()
    loop.close()


def test_me(connect, sim_server):
    account = connect().me()
    assert account.key_prefix == sim_server.api_key[:14]
    assert account.credits.total == account.credits.paid + account.credits.free


def test_render_wait_download(connect, sim_server):
    client = connect()
    before = sim_server.job_count()
    job = client.render(SCENE, "Hello", quality="low", metadata={"simulate": {"seconds": 0.5}, "cell": 1})
    assert job.status == "queued" and sim_server.job_count() == before + 1
    seen: list[str] = []
    done = client.wait(job, on_update=lambda j: seen.append(j.status), timeout=60)
    assert done.status == "completed" and seen[-1] == "completed" and len(seen) == len(set(seen))
    assert done.metadata == {"simulate": {"seconds": 0.5}, "cell": 1}
    assert done.duration_ms is not None and done.completed_at >= done.created_at
    assert client.get_job(job.job_id) == done
    assert len(client.download(done.result.video)) > 0


def test_failed_render(connect):
    client = connect()
    with pytest.raises(RenderFailedError) as caught:
        client.render_and_wait(SCENE, "Hello", quality="low", metadata={"simulate": {"seconds": 0.2, "fail": True}},
                               timeout=60)
    assert caught.value.job.status == "failed" and caught.value.job.error


def test_unknown_key_is_401_and_creates_nothing(connect, sim_server):
    before = sim_server.job_count()
    client = connect("kdsc_live_" + "0" * 48)
    with pytest.raises(AuthenticationError, match="KODISC_API_KEY"):
        client.render(SCENE, "Hello", quality="low")
    with pytest.raises(AuthenticationError):
        client.me()
    assert sim_server.job_count() == before


def test_unknown_job_is_404(connect):
    with pytest.raises(NotFoundError, match="nonexistent"):
        connect().get_job("nonexistent")


def test_another_users_job_is_404(connect, sim_server):
    job = connect().render(SCENE, "Hello", quality="low", metadata={"simulate": {"seconds": 0.1}})
    stranger = sim_server.create_user(credits=100)
    with pytest.raises(NotFoundError):
        connect(stranger.api_key).get_job(job.job_id)


def test_no_credits_is_402_and_creates_nothing(tmp_path):
    from kodisc_jupyter.server import start_local_server

    with start_local_server(tmp_path, renderer="simulate", credits=0, free_credits=0) as server:
        with Kodisc(server.api_key, base_url=server.base_url) as client:
            with pytest.raises(InsufficientCreditsError, match="top up"):
                client.render(SCENE, "Hello", quality="low")
        assert server.job_count() == 0


def test_server_400_names_the_field(sim_server):
    """Bypass the client's own validation to see the server's 400 for the same rule."""
    with Kodisc(sim_server.api_key, base_url=sim_server.base_url) as client:
        flow = client._core.call("POST", f"{sim_server.base_url}/render", body={"code": SCENE, "className": "1Hello"})
        with pytest.raises(BadRequestError, match="className") as caught:
            client._run(flow)
    assert caught.value.status_code == 400


def test_invalid_arguments_never_reach_the_server(connect, sim_server):
    before = sim_server.job_count()
    with pytest.raises(ValidationError):
        connect().render(SCENE, "Hello", fps="30")
    assert sim_server.job_count() == before


# -- faults over real sockets (the server's fault injection; see server/_faults.py) ---------------

FAST_RETRIES = {"retry_policy": RetryPolicy(base=0.01, cap=0.05, max_retry_after=0.05)}


def test_post_dropped_after_the_job_was_created_is_not_retried(tmp_path):
    from kodisc_jupyter.server import start_local_server

    with start_local_server(tmp_path, renderer="simulate", fault_drop_after_create_rate=1.0) as server:
        with Kodisc(server.api_key, base_url=server.base_url, **FAST_RETRIES) as client:
            with pytest.raises(APIConnectionError, match=r"may exist.*History\(\)\.list\(\)"):
                client.render(SCENE, "Hello", quality="low", metadata={"simulate": {"seconds": 0.1}})
        assert server.job_count() == 1  # exactly one job: no second POST


def test_flaky_server_is_retried_through(tmp_path):
    from kodisc_jupyter.server import start_local_server

    with start_local_server(tmp_path, renderer="simulate", fault_5xx_rate=0.5, fault_seed=3) as server:
        with Kodisc(server.api_key, base_url=server.base_url, max_retries=10, **FAST_RETRIES) as client:
            jobs = [client.render(SCENE, "Hello", quality="low", metadata={"simulate": {"seconds": 0.1}})
                    for _ in range(4)]
            done = [client.wait(job, timeout=60) for job in jobs]
        assert [job.status for job in done] == ["completed"] * 4
        assert server.job_count() == 4  # a 5xx never created a job, so retrying never duplicated one


def test_refused_connection_is_retried_then_reported(tmp_path):
    from kodisc_jupyter.server import start_local_server

    with start_local_server(tmp_path, renderer="simulate") as server:
        url, key = server.base_url, server.api_key
    with Kodisc(key, base_url=url, max_retries=2, **FAST_RETRIES) as client:  # nobody listens there now
        with pytest.raises(APIConnectionError, match="Could not reach.*ConnectError after 3 attempts"):
            client.render(SCENE, "Hello", quality="low")

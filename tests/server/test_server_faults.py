"""The fault options, over real HTTP: 5xx answers, dropped connections (before and after a job exists), latency."""
from __future__ import annotations

import time

import httpx
import pytest

from kodisc_jupyter.client import APIConnectionError, ServerError
from kodisc_jupyter.server import start_local_server

BODY = {"code": "x = 1", "className": "Hello", "quality": "low"}


@pytest.fixture
def faulty(tmp_path):
    """`faulty(**fault_options)` starts a simulate server with those faults; stopped after the test."""
    servers = []

    def start(**options):
        servers.append(start_local_server(tmp_path / f"server{len(servers)}", renderer="simulate", **options))
        return servers[-1], httpx.Client(base_url=servers[-1].base_url, timeout=10,
                                         headers={"Authorization": f"Bearer {servers[-1].api_key}"})

    yield start
    for server in servers:
        server.stop()


def test_5xx_faults_answer_json_and_create_no_job(faulty):
    server, http = faulty(fault_5xx_rate=1.0, fault_seed=7)
    with http:
        answers = [http.post("/render", json=BODY) for _ in range(12)] + [http.get("/me") for _ in range(4)]
    assert {answer.status_code for answer in answers} == {500, 502, 503}
    for answer in answers:
        assert answer.json()["error"] == "server_error" and answer.json()["message"]
        assert (answer.headers.get("retry-after") == "1") == (answer.status_code == 503)
    assert server.job_count() == 0


def test_assets_are_never_faulted(faulty):
    server, http = faulty(fault_5xx_rate=1.0)
    with http:
        response = http.get(server.base_url.removesuffix("/api/v2") + "/r/c" + "0" * 24 + "/video.mp4")
    assert response.status_code == 404


def test_a_fraction_of_requests_fail_and_the_rest_work(faulty):
    server, http = faulty(fault_5xx_rate=0.5, fault_seed=3)
    with http:
        statuses = [http.post("/render", json=BODY).status_code for _ in range(30)]
    assert 202 in statuses and set(statuses) - {202}
    assert server.job_count() == statuses.count(202)


def test_dropped_connections_get_no_answer_and_create_no_job(faulty):
    """Every drop is an end of stream, never a reset: 60 POSTs, as a reset used to come to about 1 in 20."""
    server, http = faulty(fault_drop_rate=1.0)
    with http:
        for request in [lambda: http.post("/render", json=BODY)] * 60 + [lambda: http.get("/me")]:
            with pytest.raises(httpx.RemoteProtocolError):
                request()
    assert server.job_count() == 0


def test_drop_after_create_leaves_a_job_behind(faulty):
    server, http = faulty(fault_drop_after_create_rate=1.0)
    with http:
        with pytest.raises(httpx.RemoteProtocolError):
            http.post("/render", json=BODY)
        assert http.get("/me").status_code == 200  # only POSTs that created a job are dropped
        assert http.post("/render", json={"code": ""}).status_code == 400
    assert server.job_count() == 1


def test_latency_delays_api_answers(faulty):
    server, http = faulty(fault_latency=(0.3, 0.3))
    with http:
        started = time.monotonic()
        assert http.get("/me").status_code == 200
        assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("options", [
    {"fault_5xx_rate": 1.5}, {"fault_drop_rate": -0.1}, {"fault_5xx_rate": "0.5"}, {"fault_latency": (0.5, 0.1)},
    {"fault_latency": 0.2}, {"renderer": "blender"}, {"workers": 0}, {"port": "8765"}, {"port": 70000},
    {"credits": "100"}, {"free_credits": -1}, {"render_timeout": "60"}, {"webhook_timeout": 0},
])
def test_bad_options_are_refused_with_one_line(tmp_path, options):
    with pytest.raises(ValueError) as caught:
        start_local_server(tmp_path / "server", **options)
    (name,) = options
    assert "\n" not in str(caught.value) and name in str(caught.value)
    assert not (tmp_path / "server").exists()  # refused before anything was created


def test_the_client_retries_through_5xx_without_duplicate_jobs(faulty, make_user):
    server, http = faulty(fault_5xx_rate=0.5, fault_seed=11)
    http.close()
    user = make_user(server, max_retries=8)
    job_ids = [user.submit() for _ in range(6)]
    assert server.job_count() == len(set(job_ids)) == 6  # a retried POST never made a second job
    assert all(user.wait(job_id).status == "completed" for job_id in job_ids)


def test_the_client_gives_up_on_persistent_5xx(faulty, make_user):
    server, http = faulty(fault_5xx_rate=1.0)
    http.close()
    with pytest.raises(ServerError) as caught:
        make_user(server, max_retries=2).kodisc.me()
    assert caught.value.status_code in (500, 502, 503)


def test_the_client_retries_dropped_gets_but_not_dropped_posts(faulty, make_user):
    server, http = faulty(fault_drop_rate=0.5, fault_seed=5)
    http.close()
    user = make_user(server, max_retries=8)
    for _ in range(5):
        assert user.kodisc.me().key_prefix == server.api_key[:14]
    failures = 0
    for _ in range(6):
        try:
            user.submit()
        except APIConnectionError as exc:
            failures += 1
            assert "a job may exist" in str(exc)
    assert failures and server.job_count() == 6 - failures


def test_the_client_says_a_job_may_exist_when_dropped_after_create(faulty, make_user):
    server, http = faulty(fault_drop_after_create_rate=1.0)
    http.close()
    with pytest.raises(APIConnectionError, match="a job may exist"):
        make_user(server).submit()
    assert server.job_count() == 1

"""The fault options, over real HTTP: 5xx answers, dropped connections (before and after a job exists), latency."""
from __future__ import annotations

import time

import httpx
import pytest

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
    server, http = faulty(fault_drop_rate=1.0)
    with http:
        for request in (lambda: http.post("/render", json=BODY), lambda: http.get("/me")):
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


@pytest.mark.parametrize("options", [{"fault_5xx_rate": 1.5}, {"fault_drop_rate": -0.1},
                                     {"fault_latency": (0.5, 0.1)}, {"renderer": "blender"}, {"workers": 0}])
def test_bad_options_are_refused_with_one_line(tmp_path, options):
    with pytest.raises(ValueError) as caught:
        start_local_server(tmp_path, **options)
    assert "\n" not in str(caught.value)

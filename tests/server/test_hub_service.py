"""`--jupyterhub` without a hub's help: the prefix, Kodisc keys beside hub tokens, and an unreachable hub."""
from __future__ import annotations

import socket

import httpx
import pytest

from kodisc_jupyter.server import start_local_server


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def service(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_API_URL", f"http://127.0.0.1:{closed_port()}/hub/api")  # the hub is down
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/services/kodisc/")
    with start_local_server(tmp_path / "svc", renderer="simulate", jupyterhub=True) as server:
        yield server


def test_the_api_lives_under_the_prefix_and_kodisc_keys_still_sign_in(service):
    assert service.base_url.endswith("/services/kodisc/api/v2")
    me = httpx.get(f"{service.base_url}/me", headers={"Authorization": f"Bearer {service.api_key}"})
    assert me.status_code == 200 and me.json()["keyPrefix"] == service.api_key[:14]
    outside = httpx.get(service.base_url.replace("/services/kodisc", "") + "/me")
    assert outside.status_code == 404 and "/services/kodisc/api/v2" in outside.json()["message"]


def test_an_unreachable_hub_is_a_json_503_and_a_malformed_token_a_401(service):
    down = httpx.get(f"{service.base_url}/me", headers={"Authorization": "token 0123456789abcdef"})
    assert down.status_code == 503 and down.json()["error"] == "hub_unavailable"
    bad = httpx.get(f"{service.base_url}/me", headers={"Authorization": "token " + "x" * 600})
    assert bad.status_code == 401 and bad.json()["error"] == "unauthorized"


def test_without_the_hubs_variables_the_service_refuses_to_start(tmp_path, monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_API_URL", raising=False)
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    with pytest.raises(ValueError, match="JUPYTERHUB_API_URL and JUPYTERHUB_SERVICE_PREFIX are not set"):
        start_local_server(tmp_path / "svc", renderer="simulate", jupyterhub=True)

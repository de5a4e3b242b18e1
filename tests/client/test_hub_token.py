"""In a JupyterHub user's kernel, a hub service's base URL signs in with the kernel's JUPYTERHUB_API_TOKEN."""
from __future__ import annotations

import pytest

from kodisc_jupyter import Kodisc
from kodisc_jupyter.client import AuthenticationError
from kodisc_jupyter.credentials import save_key

HUB_TOKEN = "3f6c1d2e9a8b7c6d5e4f3a2b1c0d9e8f"
SERVICE = "http://hub.example:8000/services/kodisc/api/v2"
KEY = "kdsc_live_" + "ab" * 24


@pytest.fixture
def in_a_hub_kernel(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", HUB_TOKEN)
    monkeypatch.setenv("JUPYTERHUB_BASE_URL", "/")


def test_a_hub_service_url_signs_in_with_the_hub_token_and_never_shows_it(in_a_hub_kernel):
    client = Kodisc(base_url=SERVICE)
    assert client._core.secret.reveal() == HUB_TOKEN
    assert client.key_prefix == "hub-token" and HUB_TOKEN not in repr(client) and HUB_TOKEN not in repr(client._core.secret)


def test_the_token_goes_to_no_other_url(in_a_hub_kernel):
    with pytest.raises(AuthenticationError):  # kodisc.com is no hub service: no key at all
        Kodisc(base_url="https://kodisc.com/api/v2").me()
    assert Kodisc(base_url="http://hub.example:8000/user/alice/api/v2").key_prefix is None


def test_a_hub_under_a_base_url_and_a_key_of_ones_own(in_a_hub_kernel, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_BASE_URL", "/jupyter/")
    assert Kodisc(base_url=SERVICE).key_prefix is None  # that hub's services live under /jupyter/services/
    assert Kodisc(base_url="http://hub.example/jupyter/services/kodisc/api/v2").key_prefix == "hub-token"
    monkeypatch.setenv("KODISC_API_KEY", KEY)  # a key set on purpose wins
    assert Kodisc(base_url=SERVICE.replace("/services", "/jupyter/services")).key_prefix == KEY[:14]


def test_the_hub_token_comes_before_a_saved_key_for_the_hub_service(in_a_hub_kernel):
    save_key(KEY)  # a student's own Kodisc key must not go to the class's service
    assert Kodisc(base_url=SERVICE).key_prefix == "hub-token"
    assert Kodisc().key_prefix == KEY[:14]

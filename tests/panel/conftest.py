"""Fixtures for the panel and account-magic tests: a fresh user on the shared simulated server
(its own balance and jobs), the environment pointing the `auto` backend at it, and a history
made by real renders through the pipeline (two completed, one failed)."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from panel_helpers import HOSTILE_ERROR, run, simulated


@dataclass
class Account:
    api_key: str
    base_url: str

    def client(self):
        from kodisc_jupyter import Kodisc

        return Kodisc(self.api_key, base_url=self.base_url)


@pytest.fixture
def account(sim_server, monkeypatch) -> Account:
    user = sim_server.create_user(credits=500)
    monkeypatch.setenv("KODISC_API_KEY", user.api_key)
    monkeypatch.setenv("KODISC_BASE_URL", sim_server.base_url)
    return Account(user.api_key, sim_server.base_url)


@pytest.fixture
def made_jobs(account) -> dict[str, str]:
    """Oldest first: Alpha (low, completed), Beta (medium, completed), Gamma (failed)."""
    return {
        "Alpha": run(simulated("Alpha")),
        "Beta": run(simulated("Beta", quality="medium", seconds=0.3)),
        "Gamma": run(simulated("Gamma", fail=HOSTILE_ERROR)),
    }

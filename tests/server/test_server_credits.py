"""Credits on the local server: reserve on POST, settle at the end, refund, 402, and uncovered costs."""
from __future__ import annotations

import math

import pytest

from kodisc_jupyter.server import start_local_server
from kodisc_jupyter.server._pricing import RATES


@pytest.fixture
def account(tmp_path, request, make_api):
    """A fresh server whose only user has `paid` and `free` credits, given as the test's parameters."""
    paid, free = request.param
    with start_local_server(tmp_path / "server", renderer="simulate", credits=paid, free_credits=free) as server:
        yield make_api(server)


@pytest.mark.parametrize("account", [(0, 20)], indirect=True)
def test_reserve_then_settle_from_duration_and_quality(account):
    job_id = account.submit(metadata={"simulate": {"seconds": 1.2}})
    assert account.total() == 20 - RATES["low"]  # the reserve, while it runs
    job = account.wait(job_id)
    assert job["status"] == "completed"
    expected = RATES["low"] * max(1, math.ceil(job["durationMs"] / 1000))
    assert job["creditsCost"] == expected >= 2
    assert account.me()["credits"] == {"paid": 0, "free": 20 - expected, "total": 20 - expected}


@pytest.mark.parametrize("account", [(5, 3)], indirect=True)
def test_free_credits_are_spent_before_paid_ones(account):
    job = account.wait(account.submit(quality="medium", metadata={"simulate": {"seconds": 0.1}}))
    assert job["creditsCost"] == RATES["medium"] * 1
    assert account.me()["credits"] == {"paid": 5, "free": 1, "total": 6}


@pytest.mark.parametrize("account", [(0, 4)], indirect=True)
def test_failed_render_refunds_the_reserve(account):
    job = account.wait(account.submit(metadata={"simulate": {"seconds": 0.2, "fail": True}}))
    assert job["status"] == "failed" and job["creditsCost"] == 0
    assert account.total() == 4


@pytest.mark.parametrize("account", [(0, 1)], indirect=True)
def test_402_below_the_reserve_creates_no_job(account):
    before = account.server.job_count()
    response = account.post({"code": "x = 1", "className": "Hello", "quality": "medium"})
    assert response.status_code == 402
    body = response.json()
    assert body["error"] == "insufficient_credits" and "credits" in body["message"]
    assert account.server.job_count() == before
    assert account.total() == 1
    assert account.post({"code": "x = 1", "className": "Hello", "quality": "low"}).status_code == 202


@pytest.mark.parametrize("account", [(0, 2)], indirect=True)
def test_reserves_of_running_jobs_count_against_the_balance(account):
    first = account.submit(metadata={"simulate": {"seconds": 1}})
    second = account.submit(metadata={"simulate": {"seconds": 1}})
    third = account.post({"code": "x = 1", "className": "Hello", "quality": "low"})
    assert third.status_code == 402
    assert {account.wait(first)["status"], account.wait(second)["status"]} <= {"completed", "failed"}


@pytest.mark.parametrize("account", [(0, 2)], indirect=True)
def test_uncovered_cost_fails_the_job_and_refunds_the_reserve(account):
    job = account.wait(account.submit(metadata={"simulate": {"seconds": 2.2}}))  # costs 3 > 2
    assert job["status"] == "failed"
    assert "not enough credits" in job["error"] and job["creditsCost"] == 0 and job["result"] is None
    assert account.total() == 2

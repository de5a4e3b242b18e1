"""Credits on the local server, through our client: reserve on POST, settle at the end, refund, 402."""
from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest
from server_helpers import HELLO

from kodisc_jupyter.client import Credits, InsufficientCreditsError
from kodisc_jupyter.server import start_local_server
from kodisc_jupyter.server._pricing import RATES
from kodisc_jupyter.server._store import Store


@pytest.fixture
def account(tmp_path, request, make_user):
    """The first user of a fresh server, with the (paid, free) credits given as the test's parameter."""
    paid, free = request.param
    with start_local_server(tmp_path / "server", renderer="simulate", credits=paid, free_credits=free) as server:
        yield make_user(server)


@pytest.mark.parametrize("account", [(0, 20)], indirect=True)
def test_reserve_then_settle_from_duration_and_quality(account):
    job_id = account.submit(metadata={"simulate": {"seconds": 1.2}})
    assert account.credits().total == 20 - RATES["low"]  # the reserve, while it runs
    job = account.wait(job_id)
    assert job.status == "completed"
    expected = RATES["low"] * max(1, math.ceil(job.duration_ms / 1000))
    assert job.credits_cost == expected >= 2
    assert account.credits() == Credits(paid=0, free=20 - expected, total=20 - expected)


@pytest.mark.parametrize("account", [(5, 3)], indirect=True)
def test_free_credits_are_spent_before_paid_ones(account):
    job = account.wait(account.submit(quality="medium", metadata={"simulate": {"seconds": 0.1}}))
    assert job.credits_cost == RATES["medium"]
    assert account.credits() == Credits(paid=5, free=3 - RATES["medium"], total=8 - RATES["medium"])


@pytest.mark.parametrize("account", [(0, 4)], indirect=True)
def test_a_failed_render_refunds_the_reserve(account):
    job = account.wait(account.submit(metadata={"simulate": {"seconds": 0.2, "fail": True}}))
    assert job.status == "failed" and job.credits_cost == 0
    assert account.credits().total == 4


@pytest.mark.parametrize("account", [(0, 1)], indirect=True)
def test_402_below_the_reserve_creates_no_job(account):
    before = account.server.job_count()
    with pytest.raises(InsufficientCreditsError) as caught:
        account.kodisc.render(HELLO, "Hello", quality="medium")
    assert caught.value.status_code == 402 and caught.value.code == "insufficient_credits"
    assert account.server.job_count() == before
    assert account.credits().total == 1
    assert account.kodisc.render(HELLO, "Hello", quality="low").status == "queued"


@pytest.mark.parametrize("account", [(0, 2)], indirect=True)
def test_reserves_of_running_jobs_count_against_the_balance(account):
    running = [account.submit(metadata={"simulate": {"seconds": 1}}) for _ in range(2)]
    with pytest.raises(InsufficientCreditsError):
        account.submit()
    assert all(account.wait(job_id).done for job_id in running)


@pytest.mark.parametrize("account", [(0, 2)], indirect=True)
def test_an_uncovered_cost_fails_the_job_and_refunds_the_reserve(account):
    job = account.wait(account.submit(metadata={"simulate": {"seconds": 2.2}}))  # costs 3 > 2
    assert job.status == "failed" and "not enough credits" in job.error
    assert job.credits_cost == 0 and job.result is None
    assert account.credits().total == 2


def test_the_free_allowance_resets_each_month(tmp_path):
    store = Store(tmp_path / "server.sqlite3", monthly_free_credits=10)
    try:
        user = store.create_user(paid_credits=5)
        key = store.authenticate(user.api_key)
        job = store.create_job(key, {"code": "x", "className": "A", "quality": "low", "aspectRatio": "16:9"},
                               fps=15, webhook_url=None, reserve=1, server_id="test")
        store.finish(job.job_id, error=None, cost=12, duration_ms=12000, uncovered_error="{cost}")
        assert store.balance(key.user_id) == (3, 0)  # 10 free first, then 2 paid
        now = datetime.now(timezone.utc)
        next_month = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=timezone.utc)
        assert store.balance(key.user_id, at_ms=int(next_month.timestamp() * 1000)) == (3, 10)
    finally:
        store.close()


@pytest.mark.parametrize("account", [(0, 5)], indirect=True)
def test_concurrent_posts_never_overdraw(account):
    """20 POSTs at once against a balance that covers 5 reserves: exactly 5 jobs, 15 clean 402s."""
    from concurrent.futures import ThreadPoolExecutor

    def post(_):
        return account.post({"code": HELLO, "className": "Hello", "quality": "low",
                             "metadata": {"simulate": {"seconds": 2}}})

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(post, range(20)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [202] * 5 + [402] * 15
    assert all(answer.json()["error"] == "insufficient_credits" for answer in answers if answer.status_code == 402)
    assert account.server.job_count() == 5 and account.credits().total == 0

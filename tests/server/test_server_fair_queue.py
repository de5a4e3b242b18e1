"""Fair sharing: renders are taken in turn between users, one user never holds every worker, and a render
that held its worker until the timeout pays for that time."""
from __future__ import annotations

import asyncio

import pytest

from kodisc_jupyter.server import start_local_server
from kodisc_jupyter.server._fair_queue import FairQueue
from kodisc_jupyter.server._pricing import RATES


def sleeping(seconds: float) -> dict:
    return {"metadata": {"simulate": {"seconds": seconds}}}


def test_a_second_user_gets_a_worker_while_the_first_queues_many(tmp_path, make_user):
    with start_local_server(tmp_path / "server", renderer="simulate", workers=2) as server:
        hog = make_user(server, server.create_user(credits=100).api_key)
        owner = make_user(server)
        hogs = [hog.submit(**sleeping(3)) for _ in range(3)]
        quick = owner.wait(owner.submit(**sleeping(0.2)), timeout=10)
        assert quick.status == "completed"
        records = [server._store.get_job(job_id) for job_id in hogs]
        running = [job for job in records if job.status == "running"]
        assert len(running) == 1  # the hog's cap: all workers but one
        assert server._store.get_job(quick.job_id).completed_ms < min(job.started_ms or 2**62 for job in records
                                                                      if job.status != "running")


def test_the_queue_takes_users_in_turn_not_in_submission_order(tmp_path, make_user):
    with start_local_server(tmp_path / "server", renderer="simulate", workers=1) as server:
        first, second = make_user(server), make_user(server, server.create_user(credits=100).api_key)
        a = [first.submit(**sleeping(0.2)) for _ in range(3)]
        b = [second.submit(**sleeping(0.2)) for _ in range(3)]
        assert all(first.wait(job_id).status == "completed" for job_id in a)
        assert all(second.wait(job_id).status == "completed" for job_id in b)
        order = sorted(a + b, key=lambda job_id: server._store.get_job(job_id).started_ms)
    # a[0] was running before b existed; from then on the turn alternates
    assert order == [a[0], b[0], a[1], b[1], a[2], b[2]]


def test_only_the_first_users_work_uses_every_worker(tmp_path, make_user):
    with start_local_server(tmp_path / "server", renderer="simulate", workers=2) as server:
        owner = make_user(server)
        jobs = [owner.submit(**sleeping(0.6)) for _ in range(2)]
        assert all(owner.wait(job_id).status == "completed" for job_id in jobs)
        first, second = (server._store.get_job(job_id) for job_id in jobs)
    assert second.started_ms < first.completed_ms  # side by side: one person's own server


def test_a_render_stopped_at_its_timeout_pays_for_the_time_it_held(tmp_path, make_user):
    with start_local_server(tmp_path / "server", renderer="simulate", render_timeout=1.5, credits=50) as server:
        owner = make_user(server)
        hog = owner.wait(owner.submit(**sleeping(100)), timeout=20)
        quick = owner.wait(owner.submit(metadata={"simulate": {"seconds": 0.1, "fail": True}}), timeout=20)
        assert hog.status == "failed" and "longer than 1.5 s" in hog.error
        assert hog.credits_cost == RATES["low"] * 2  # 1.5 s held: two started seconds
        assert quick.status == "failed" and quick.credits_cost == 0  # a quick failure stays free
        assert owner.credits().total == 50 + server.options.free_credits - hog.credits_cost


def test_spare_workers_are_those_no_queued_job_can_use():
    async def scenario() -> None:
        queue = FairQueue(3, per_user=1)
        queue.put("a1", "a")
        queue.put("a2", "a")
        assert await queue.take() == ("a1", "a")
        assert queue.spare() == 2  # a2 waits for a's cap, not for a worker
        queue.put("b1", "b")
        assert queue.spare() == 1  # b1 wants one of the idle two
        assert queue.borrow(5) == 1 and queue.idle() == 1 and queue.spare() == 0
        assert await queue.take() == ("b1", "b")
        taking = asyncio.ensure_future(queue.take())
        await asyncio.sleep(0)
        assert not taking.done()  # no idle worker: one is lent out
        queue.give_back(1)
        queue.done("a")
        assert await asyncio.wait_for(taking, 1) == ("a2", "a")

    asyncio.run(scenario())


@pytest.mark.parametrize("per_user", [0, -1, 1.5, "2"])
def test_a_bad_per_user_cap_is_one_line(tmp_path, per_user):
    with pytest.raises(ValueError, match="per_user must be an integer >= 1"):
        start_local_server(tmp_path / "server", renderer="simulate", per_user=per_user)

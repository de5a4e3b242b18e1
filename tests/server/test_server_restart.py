"""A restart keeps users, keys, balances, jobs and files; jobs cut off by the stop fail with a clear error."""
from __future__ import annotations

import json
import time

from kodisc_jupyter import webhooks
from kodisc_jupyter.server import start_local_server
from kodisc_jupyter.server._jobs import STOPPED_ERROR


def test_restart_keeps_state_and_fails_unfinished_jobs(tmp_path, make_user, make_receiver):
    data_dir = tmp_path / "server"
    hook = make_receiver()
    first = start_local_server(data_dir, renderer="simulate", credits=50, free_credits=0, workers=1,
                               allow_http_webhooks=True)
    try:
        first.set_default_webhook(hook.url)
        owner = make_user(first)
        done = owner.wait(owner.submit(metadata={"simulate": {"seconds": 0.1}}))
        [_] = hook.wait_for(1)
        running = owner.submit(metadata={"simulate": {"seconds": 60}})
        queued = owner.submit(metadata={"simulate": {"seconds": 60}}, webhook_url=None)
        while owner.job(running).status != "running":
            time.sleep(0.02)
        other = first.create_user(credits=7)
        balance_while_running = owner.credits().total
        identity = (first.api_key, first.webhook_secret)
        count = first.job_count()
    finally:
        first.stop()

    with start_local_server(data_dir, renderer="simulate", credits=999, free_credits=0,
                            allow_http_webhooks=True) as second:
        assert (second.api_key, second.webhook_secret) == identity
        owner = make_user(second)
        assert second.job_count() == count
        for job_id in (running, queued):
            job = owner.job(job_id)
            assert job.status == "failed" and job.error == STOPPED_ERROR
            assert job.credits_cost == 0 and job.completed_at is not None
        assert owner.credits().total == balance_while_running + 2  # both reserves refunded; --credits ignored
        assert owner.credits().total == 50 - done.credits_cost
        kept = owner.job(done.job_id)
        assert kept.status == "completed" and kept.created_at == done.created_at
        assert kept.result.video.startswith(second.base_url.removesuffix("/api/v2"))  # URLs follow the new port
        assert owner.kodisc.download(kept.result.video)[4:8] == b"ftyp"
        assert make_user(second, other.api_key).credits().paid == 7
        deliveries = hook.wait_for(2)  # the job cut off while running is delivered as failed (queued had none)
        assert len(deliveries) == 2
        event = webhooks.verify(deliveries[1][1], deliveries[1][0]["kodisc-signature"], second.webhook_secret)
        assert event["jobId"] == running and event["status"] == "failed"


def test_a_fresh_data_dir_gets_a_new_owner_with_the_given_credits(tmp_path, make_user):
    with start_local_server(tmp_path / "a", renderer="simulate", credits=12, free_credits=3) as one, \
            start_local_server(tmp_path / "b", renderer="simulate") as two:
        assert one.api_key != two.api_key
        assert make_user(one).credits().to_dict() == {"paid": 12, "free": 3, "total": 15}
        assert (tmp_path / "a" / "owner.json").stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "a").stat().st_mode & 0o777 == 0o700  # the database holds webhook secrets
        assert one.api_key not in repr(one) and one.api_key[:14] in repr(one)


def test_servers_sharing_a_data_dir_leave_each_others_jobs_alone(tmp_path, make_user):
    """Two notebook kernels each start an embedded server on the same data dir."""
    data_dir = tmp_path / "server"
    with start_local_server(data_dir, renderer="simulate", workers=1) as first:
        user = make_user(first)
        busy = user.submit(metadata={"simulate": {"seconds": 1.5}})
        while user.job(busy).status != "running":
            time.sleep(0.02)
        with start_local_server(data_dir, renderer="simulate") as second:
            assert second.api_key == first.api_key
            assert user.wait(busy).status == "completed"  # the second start did not fail it
            seen_by_second = make_user(second).job(busy)
            assert seen_by_second.result.video.startswith(second.base_url.removesuffix("/api/v2"))
            assert make_user(second).kodisc.download(seen_by_second.result.video)[4:8] == b"ftyp"

            orphan = user.submit(metadata={"simulate": {"seconds": 60}})
            while user.job(orphan).status != "running":
                time.sleep(0.02)
            first.stop()
            with start_local_server(data_dir, renderer="simulate") as third:
                job = make_user(third).job(orphan)
                assert job.status == "failed" and job.error == STOPPED_ERROR


def test_an_owner_file_of_another_database_is_replaced_and_narrowed(tmp_path):
    """owner.json whose key this data dir's database does not know (e.g. the database was deleted)."""
    data_dir = tmp_path / "server"
    data_dir.mkdir()
    stale = {"user_id": "u_0", "key_id": "k_0", "api_key": "kdsc_live_" + "0" * 48, "webhook_secret": "whsec_0"}
    (data_dir / "owner.json").write_text(json.dumps(stale))
    (data_dir / "owner.json").chmod(0o644)
    with start_local_server(data_dir, renderer="simulate") as server:
        assert server.api_key != stale["api_key"]
    assert (data_dir / "owner.json").stat().st_mode & 0o777 == 0o600
    assert json.loads((data_dir / "owner.json").read_text())["api_key"] == server.api_key

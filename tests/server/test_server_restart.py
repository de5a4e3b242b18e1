"""A restart keeps users, keys, balances, jobs and files; jobs cut off by the stop fail with a clear error."""
from __future__ import annotations

import time

import httpx

from kodisc_jupyter import webhooks
from kodisc_jupyter.server import start_local_server
from kodisc_jupyter.server._jobs import STOPPED_ERROR


def test_restart_keeps_state_and_fails_unfinished_jobs(tmp_path, make_api, make_receiver):
    data_dir = tmp_path / "server"
    hook = make_receiver()
    first = start_local_server(data_dir, renderer="simulate", credits=50, free_credits=0, workers=1,
                               allow_http_webhooks=True)
    try:
        api = make_api(first)
        done = api.wait(api.submit(metadata={"simulate": {"seconds": 0.1}}))
        running = api.submit(metadata={"simulate": {"seconds": 60}}, webhookUrl=hook.url)
        queued = api.submit(metadata={"simulate": {"seconds": 60}})
        while api.job(running)["status"] != "running":
            time.sleep(0.02)
        other = first.create_user(credits=7)
        balance_while_running = api.total()
        identity = (first.api_key, first.webhook_secret)
        count = first.job_count()
    finally:
        first.stop()

    with start_local_server(data_dir, renderer="simulate", credits=999, free_credits=0,
                            allow_http_webhooks=True) as second:
        assert (second.api_key, second.webhook_secret) == identity
        api = make_api(second)
        assert second.job_count() == count
        for job_id in (running, queued):
            job = api.job(job_id)
            assert job["status"] == "failed" and job["error"] == STOPPED_ERROR
            assert job["creditsCost"] == 0 and job["completedAt"] is not None
        assert api.total() == balance_while_running + 2  # both reserves refunded, --credits ignored
        assert api.total() == 50 - done["creditsCost"]
        kept = api.job(done["jobId"])
        assert kept["status"] == "completed" and kept["createdAt"] == done["createdAt"]
        assert httpx.get(kept["result"]["video"]).status_code == 200
        assert kept["result"]["video"].startswith(second.base_url.removesuffix("/api/v2"))
        assert make_api(second, other.api_key).me()["credits"]["paid"] == 7
        [delivery] = hook.wait_for(1)
        event = webhooks.verify(delivery[1], delivery[0]["kodisc-signature"], second.webhook_secret)
        assert event["jobId"] == running and event["status"] == "failed"


def test_a_fresh_data_dir_gets_a_new_owner_with_the_given_credits(tmp_path, make_api):
    with start_local_server(tmp_path / "a", renderer="simulate", credits=12, free_credits=3) as one, \
            start_local_server(tmp_path / "b", renderer="simulate") as two:
        assert one.api_key != two.api_key
        assert make_api(one).me()["credits"] == {"paid": 12, "free": 3, "total": 15}
        assert (tmp_path / "a" / "owner.json").stat().st_mode & 0o777 == 0o600
        assert one.api_key not in repr(one) and one.api_key[:14] in repr(one)

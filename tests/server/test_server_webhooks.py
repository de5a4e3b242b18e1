"""Webhook deliveries from the local server: signed, verifiable with `webhooks.verify`, and retried."""
from __future__ import annotations

import json

import pytest
from server_helpers import HELLO

from kodisc_jupyter import webhooks
from kodisc_jupyter.client import Job
from kodisc_jupyter.server import start_local_server

RETRY_DELAYS = (0.2, 0.4, 0.6)


@pytest.fixture
def server(tmp_path):
    with start_local_server(tmp_path / "server", renderer="simulate", allow_http_webhooks=True,
                            webhook_retry_delays=RETRY_DELAYS, webhook_timeout=0.5) as running:
        yield running


@pytest.fixture
def user(server, make_user):
    return make_user(server)


def submit_to(user, url: str, **fields) -> str:
    """POST raw: our client, like Kodisc, refuses http:// webhook URLs; this dev server takes loopback ones."""
    body = {"code": HELLO, "className": "Hello", "quality": "low", "webhookUrl": url, **fields}
    response = user.post(body)
    assert response.status_code == 202, response.text
    return response.json()["jobId"]


def verified(server, delivery) -> dict:
    headers, body = delivery
    assert headers["content-type"] == "application/json"
    return webhooks.verify(body, headers["kodisc-signature"], server.webhook_secret)


@pytest.mark.parametrize("fail, event", [(False, "completed"), (True, "failed")])
def test_terminal_transition_is_delivered_signed(server, user, make_receiver, fail, event):
    hook = make_receiver()
    job_id = submit_to(user, hook.url, metadata={"simulate": {"seconds": 0.1, "fail": fail}, "tag": "w"})
    user.wait(job_id)
    [delivery] = hook.wait_for(1)
    assert delivery[0]["kodisc-event"] == event
    event_body = verified(server, delivery)
    assert event_body == user.raw_job(job_id)  # the same shape and values as GET /render/{jobId}
    assert Job.from_dict(event_body) == user.job(job_id)
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify(delivery[1] + b" ", delivery[0]["kodisc-signature"], server.webhook_secret)


def test_non_2xx_answers_are_retried_until_one_succeeds(server, user, make_receiver):
    hook = make_receiver(statuses=[500, 503])
    job_id = submit_to(user, hook.url)
    deliveries = hook.wait_for(3)
    assert len(deliveries) == 3
    assert {json.loads(body)["jobId"] for _, body in deliveries} == {job_id}
    for delivery in deliveries:
        assert verified(server, delivery)["status"] == "completed"


def test_a_slow_answer_counts_as_no_answer_and_is_retried(server, user, make_receiver):
    hook = make_receiver(statuses=[(200, 1.5)])  # longer than the server's 0.5 s answer timeout
    submit_to(user, hook.url)
    assert len(hook.wait_for(2)) == 2


def test_an_answer_dripped_past_the_timeout_counts_as_no_answer(server, user, make_receiver):
    hook = make_receiver(statuses=[(200, 0.3, "drip")])  # 8 lines 0.3 s apart: never 0.5 s silent, 2.4 s in all
    submit_to(user, hook.url)
    assert len(hook.wait_for(2)) == 2


def test_four_attempts_in_all(server, user, make_receiver):
    hook = make_receiver(statuses=[500] * 10)
    user.wait(submit_to(user, hook.url))
    assert len(hook.wait_for(4)) == 4
    assert len(hook.wait_for(5, timeout=1.5)) == 4


def test_the_keys_default_webhook_applies_unless_the_request_says_null(server, user, make_receiver):
    hook = make_receiver()
    server.set_default_webhook(hook.url)
    silent = user.wait(user.submit(webhook_url=None))
    assert silent.status == "completed"
    loud = user.submit()
    [delivery] = hook.wait_for(1)
    assert verified(server, delivery)["jobId"] == loud
    assert len(hook.wait_for(2, timeout=0.5)) == 1


def test_each_user_signs_with_its_own_secret(server, make_user, make_receiver):
    other = server.create_user(credits=10)
    hook = make_receiver()
    submit_to(make_user(server, other.api_key), hook.url)
    [delivery] = hook.wait_for(1)
    assert webhooks.verify(delivery[1], delivery[0]["kodisc-signature"], other.webhook_secret)
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify(delivery[1], delivery[0]["kodisc-signature"], server.webhook_secret)


@pytest.mark.parametrize("url", ["http://example.com/hook", "http://10.0.0.1/hook", "ftp://127.0.0.1/hook"])
def test_http_webhooks_only_to_loopback_even_when_allowed(user, url):
    response = user.post({"code": "x = 1", "className": "Hello", "webhookUrl": url})
    assert response.status_code == 400
    assert response.json()["field"] == "webhookUrl"


def test_an_http_default_webhook_is_skipped_unless_allowed(tmp_path, make_user, make_receiver):
    hook = make_receiver()
    with start_local_server(tmp_path / "strict", renderer="simulate") as strict:
        strict.set_default_webhook(hook.url)
        user = make_user(strict)
        assert user.wait(user.submit()).status == "completed"
        assert hook.wait_for(1, timeout=0.5) == []

"""Webhook deliveries from the local server: signed, verifiable with `webhooks.verify`, and retried."""
from __future__ import annotations

import json

import pytest

from kodisc_jupyter import webhooks
from kodisc_jupyter.server import start_local_server

RETRY_DELAYS = (0.2, 0.4, 0.6)


@pytest.fixture
def server(tmp_path):
    with start_local_server(tmp_path / "server", renderer="simulate", allow_http_webhooks=True,
                            webhook_retry_delays=RETRY_DELAYS, webhook_timeout=0.5) as running:
        yield running


@pytest.fixture
def api(server, make_api):
    return make_api(server)


def verified(server, delivery) -> dict:
    headers, body = delivery
    assert headers["content-type"] == "application/json"
    return webhooks.verify(body, headers["kodisc-signature"], server.webhook_secret)


@pytest.mark.parametrize("fail, event", [(False, "completed"), (True, "failed")])
def test_terminal_transition_is_delivered_signed(server, api, make_receiver, fail, event):
    hook = make_receiver()
    job_id = api.submit(webhookUrl=hook.url, metadata={"simulate": {"seconds": 0.1, "fail": fail}, "tag": "w"})
    job = api.wait(job_id)
    [delivery] = hook.wait_for(1)
    assert delivery[0]["kodisc-event"] == event
    assert verified(server, delivery) == job  # the same shape and values as GET /render/{jobId}
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify(delivery[1] + b" ", delivery[0]["kodisc-signature"], server.webhook_secret)


def test_non_2xx_answers_are_retried_until_one_succeeds(server, api, make_receiver):
    hook = make_receiver(statuses=[500, 503])
    job_id = api.submit(webhookUrl=hook.url)
    deliveries = hook.wait_for(3)
    assert len(deliveries) == 3
    assert {json.loads(body)["jobId"] for _, body in deliveries} == {job_id}
    for delivery in deliveries:
        assert verified(server, delivery)["status"] == "completed"


def test_a_slow_answer_counts_as_no_answer_and_is_retried(server, api, make_receiver):
    hook = make_receiver(statuses=[(200, 1.5)])  # longer than the server's 0.5 s answer timeout
    api.submit(webhookUrl=hook.url)
    assert len(hook.wait_for(2)) == 2


def test_four_attempts_in_all(server, api, make_receiver):
    hook = make_receiver(statuses=[500] * 10)
    api.wait(api.submit(webhookUrl=hook.url))
    assert len(hook.wait_for(4)) == 4
    assert len(hook.wait_for(5, timeout=1.5)) == 4


def test_the_keys_default_webhook_applies_unless_the_request_says_null(server, api, make_receiver):
    hook = make_receiver()
    server.set_default_webhook(hook.url)
    silent = api.wait(api.submit(webhookUrl=None))
    assert silent["status"] == "completed"
    loud = api.submit()
    [delivery] = hook.wait_for(1)
    assert verified(server, delivery)["jobId"] == loud
    assert len(hook.wait_for(2, timeout=0.5)) == 1


def test_each_user_signs_with_its_own_secret(server, make_api, make_receiver):
    other = server.create_user(credits=10)
    hook = make_receiver()
    make_api(server, other.api_key).submit(webhookUrl=hook.url)
    [delivery] = hook.wait_for(1)
    assert webhooks.verify(delivery[1], delivery[0]["kodisc-signature"], other.webhook_secret)
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify(delivery[1], delivery[0]["kodisc-signature"], server.webhook_secret)


@pytest.mark.parametrize("url", ["http://example.com/hook", "http://10.0.0.1/hook", "ftp://127.0.0.1/hook"])
def test_http_webhooks_only_to_loopback_even_when_allowed(api, url):
    response = api.post({"code": "x = 1", "className": "Hello", "webhookUrl": url})
    assert response.status_code == 400
    assert response.json()["field"] == "webhookUrl"

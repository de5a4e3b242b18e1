"""The client against httpx.MockTransport: faults our server cannot produce on demand (exact
status codes, dropped connections, Retry-After), run through Kodisc and AsyncKodisc alike."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest
from client_helpers import BASE_URL, KEY, VirtualClock, job_body, sequence

from kodisc_jupyter import AsyncKodisc, Job, RenderResult
from kodisc_jupyter.client import PollPolicy, RetryPolicy
from kodisc_jupyter.client._client import MAX_POLL_OUTAGE
from kodisc_jupyter.errors import (
    APIConnectionError,
    APIError,
    APIResponseError,
    AuthenticationError,
    BadRequestError,
    InsufficientCreditsError,
    KodiscError,
    NotFoundError,
    RateLimitError,
    RenderFailedError,
    ServerError,
    ValidationError,
    WaitTimeoutError,
)

SCENE = "from manim import *\nclass Hello(Scene):\n    def construct(self):\n        self.add(Circle())\n"
QUEUED = httpx.Response(202, json={"jobId": "j1", "status": "queued", "endpoint": "render"})


def error_response(status: int, error: str = "oops", message: str | None = "Something is wrong.", **headers: str):
    body = {"error": error} if message is None else {"error": error, "message": message}
    return httpx.Response(status, json=body, headers=headers)


# -- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("status, cls", [
    (400, BadRequestError), (401, AuthenticationError), (402, InsufficientCreditsError),
    (404, NotFoundError), (429, RateLimitError), (500, ServerError), (502, ServerError),
    (503, ServerError), (409, APIError),
])
def test_each_status_maps_to_its_error(make_client, status, cls):
    client, recorder, _ = make_client(sequence(error_response(status, "some_code", "Server says why.")),
                                      max_retries=1)
    with pytest.raises(cls) as caught:
        client.get_job("j1")
    exc = caught.value
    assert type(exc) is cls and isinstance(exc, APIError)
    assert (exc.status_code, exc.code, exc.message) == (status, "some_code", "Server says why.")
    assert "\n" not in str(exc) and "Server says why." in str(exc)
    retried = status >= 500 or status == 429
    assert recorder.count() == (2 if retried else 1)


def test_an_error_keeps_the_answers_headers_and_request_id(make_client):
    client, _, _ = make_client(sequence(error_response(400, "bad_field", "fps is wrong.",
                                                       **{"X-Request-Id": "req_7f3a", "X-Extra": "kept"})))
    with pytest.raises(BadRequestError) as caught:
        client.get_job("j1")
    assert caught.value.request_id == "req_7f3a"
    assert caught.value.headers["x-extra"] == "kept" and caught.value.headers["X-Request-Id"] == "req_7f3a"
    client, _, _ = make_client(sequence(error_response(404, "not_found", "No such job.")))
    with pytest.raises(NotFoundError) as caught:
        client.get_job("j1")
    assert caught.value.request_id is None  # Kodisc sent none: no id is made up


@pytest.mark.parametrize("header, expected", [("12", 12.0), (None, None), ("soon", None)])
def test_a_rate_limit_that_outlasts_the_retries_says_how_long_to_wait(make_client, header, expected):
    headers = {"Retry-After": header} if header is not None else {}
    client, recorder, _ = make_client(sequence(*[error_response(429, "rate_limited", "Slow down.", **headers)] * 2),
                                      max_retries=1)
    with pytest.raises(RateLimitError) as caught:
        client.get_job("j1")
    assert caught.value.retry_after == expected and recorder.count() == 2
    assert caught.value.status_code == 429 and caught.value.code == "rate_limited"


def test_messages_say_what_to_do(make_client):
    client, _, _ = make_client(sequence(error_response(402, "insufficient_credits", "Not enough credits.")))
    with pytest.raises(InsufficientCreditsError, match="top up.*monthly"):
        client.render(SCENE, "Hello")
    client, _, _ = make_client(sequence(error_response(401, "invalid_key", "Unknown key.")))
    with pytest.raises(AuthenticationError, match=r"KODISC_API_KEY or pass Kodisc\(api_key=\.\.\.\)") as caught:
        client.me()
    assert "%" not in str(caught.value)  # a script's words: no magics in a client error


def test_the_notebook_and_the_command_line_say_the_advice_in_their_words(make_client):
    from kodisc_jupyter.rendering.backend import COMMAND_LINE, NOTEBOOK

    client, _, _ = make_client(sequence(error_response(402, "insufficient_credits", "Not enough credits.")))
    with pytest.raises(InsufficientCreditsError) as caught:
        client.render(SCENE, "Hello")
    assert NOTEBOOK.say(caught.value).endswith("(see %kodisc_credits).")
    assert COMMAND_LINE.say(caught.value).endswith("(see `kodisc me`).")
    assert NOTEBOOK.say(caught.value).startswith(caught.value.summary) and "Kodisc().me()" in str(caught.value)
    timeout = WaitTimeoutError("job123", 5.0)
    assert NOTEBOOK.say(timeout) == "Job job123 is not seen yet after 5 s -- pick it up later with %kodisc_resume job123."
    assert COMMAND_LINE.say(timeout).endswith("with `kodisc resume job123`.")
    assert NOTEBOOK.say(ValueError("plain")) == "plain"


def test_400_message_carries_the_server_message(make_client):
    client, recorder, _ = make_client(sequence(error_response(400, "invalid_body", "fps must be an integer >= 1")))
    with pytest.raises(BadRequestError, match="fps must be an integer >= 1"):
        client.render(SCENE, "Hello")
    assert recorder.count("POST") == 1


def test_non_json_error_body_still_maps_by_status(make_client):
    client, _, _ = make_client(sequence(httpx.Response(404, text="<html>nope</html>")))
    with pytest.raises(NotFoundError) as caught:
        client.get_job("missing")
    assert caught.value.code is None and "missing" in str(caught.value)


def test_missing_key_fails_at_first_call_without_a_request(make_client):
    client, recorder, _ = make_client(sequence(QUEUED), api_key=None)
    assert client.key_prefix is None  # construction succeeded
    with pytest.raises(AuthenticationError) as caught:
        client.render(SCENE, "Hello")
    assert str(caught.value) == "No Kodisc API key -- set KODISC_API_KEY or pass Kodisc(api_key=...)."
    assert recorder.count() == 0


# -- retries ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", [
    httpx.ConnectError("refused"), httpx.ConnectTimeout("slow connect"), httpx.ReadTimeout("slow read"),
    httpx.RemoteProtocolError("dropped"), httpx.ReadError("reset"),
])
def test_get_retries_transport_failures(make_client, fault):
    client, recorder, clock = make_client(sequence(fault, httpx.Response(200, json=job_body())))
    assert client.get_job("j1").status == "queued"
    assert recorder.count("GET") == 2 and len(clock.sleeps) == 1


@pytest.mark.parametrize("fault", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow connect")])
def test_post_retries_when_the_connection_never_opened(make_client, fault):
    client, recorder, _ = make_client(sequence(fault, QUEUED))
    assert client.render(SCENE, "Hello").job_id == "j1"
    assert recorder.count("POST") == 2


@pytest.mark.parametrize("fault", [httpx.ReadTimeout("slow read"), httpx.RemoteProtocolError("dropped"),
                                   httpx.WriteError("broken pipe"), httpx.ReadError("reset"),
                                   httpx.DecodingError("bad gzip")])
def test_post_never_retried_once_it_may_have_created_a_job(make_client, fault):
    client, recorder, clock = make_client(sequence(fault, QUEUED))
    with pytest.raises(APIConnectionError) as caught:
        client.render(SCENE, "Hello")
    assert recorder.count("POST") == 1 and clock.sleeps == []
    assert "may exist" in str(caught.value) and "History().list()" in str(caught.value) and "%" not in str(caught.value)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_post_retried_on_5xx_and_429(make_client, status):
    client, recorder, _ = make_client(sequence(error_response(status), QUEUED))
    assert client.render(SCENE, "Hello").status == "queued"
    assert recorder.count("POST") == 2


def test_max_retries_bounds_attempts(make_client):
    client, recorder, clock = make_client(sequence(error_response(503)), max_retries=2)
    with pytest.raises(ServerError):
        client.get_job("j1")
    assert recorder.count() == 3 and len(clock.sleeps) == 2
    client, recorder, _ = make_client(sequence(httpx.ConnectError("refused")), max_retries=0)
    with pytest.raises(APIConnectionError, match="Could not reach"):
        client.me()
    assert recorder.count() == 1


def test_backoff_doubles_up_to_the_cap(make_client):
    policy = RetryPolicy(base=0.5, cap=3.0, random=lambda: 1.0)
    client, _, clock = make_client(sequence(error_response(500)), max_retries=4, retry_policy=policy)
    with pytest.raises(ServerError):
        client.me()
    assert clock.sleeps == [0.5, 1.0, 2.0, 3.0]


def test_full_jitter_stays_within_bounds():
    import random

    policy = RetryPolicy(base=0.5, cap=8.0, random=random.Random(1).random)
    for attempt in range(7):
        ceiling = min(8.0, 0.5 * 2**attempt)
        delays = [policy.delay(attempt) for _ in range(500)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.9 * ceiling and min(delays) < 0.1 * ceiling  # spread over the whole range


def test_retry_after_seconds_is_honoured(make_client):
    client, _, clock = make_client(sequence(error_response(429, **{"Retry-After": "7"}), httpx.Response(200, json=job_body())))
    client.get_job("j1")
    assert clock.sleeps == [7.0]


def test_retry_after_http_date_is_honoured(make_client):
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=20), usegmt=True)
    client, _, clock = make_client(sequence(error_response(503, **{"Retry-After": when}), httpx.Response(200, json=job_body())))
    client.get_job("j1")
    assert len(clock.sleeps) == 1 and 17 <= clock.sleeps[0] <= 20


def test_retry_after_is_capped(make_client):
    policy = RetryPolicy(max_retry_after=30.0)
    client, _, clock = make_client(sequence(error_response(503, **{"Retry-After": "86400"}), QUEUED),
                                   retry_policy=policy)
    client.render(SCENE, "Hello")
    assert clock.sleeps == [30.0]


@pytest.mark.parametrize("header", ["soon", "", "-5"])
def test_unusable_retry_after_falls_back_to_backoff(make_client, header):
    policy = RetryPolicy(base=0.5, random=lambda: 1.0)
    client, _, clock = make_client(sequence(error_response(503, **{"Retry-After": header}), httpx.Response(200, json=job_body())),
                                   retry_policy=policy)
    client.get_job("j1")
    assert clock.sleeps == ([0.0] if header == "-5" else [0.5])


# -- validation -------------------------------------------------------------------------------

@pytest.mark.parametrize("args, kwargs, field", [
    (("", "Hello"), {}, "code"),
    ((None, "Hello"), {}, "code"),
    ((SCENE, "1Hello"), {}, "className"),
    ((SCENE, "Hello-World"), {}, "className"),
    ((SCENE, "Hello\n"), {}, "className"),
    ((SCENE, ""), {}, "className"),
    ((SCENE, "Hello"), {"quality": "ultra"}, "quality"),
    ((SCENE, "Hello"), {"quality": "LOW"}, "quality"),
    ((SCENE, "Hello"), {"aspect_ratio": "4:3"}, "aspectRatio"),
    ((SCENE, "Hello"), {"fps": 0}, "fps"),
    ((SCENE, "Hello"), {"fps": "30"}, "fps"),
    ((SCENE, "Hello"), {"fps": 30.5}, "fps"),
    ((SCENE, "Hello"), {"fps": True}, "fps"),
    ((SCENE, "Hello"), {"metadata": {"tags": {1, 2}}}, "metadata"),
    ((SCENE, "Hello"), {"metadata": {"x": float("nan")}}, "metadata"),
    ((SCENE, "Hello"), {"webhook_url": "http://example.com/hook"}, "webhookUrl"),
    ((SCENE, "Hello"), {"webhook_url": "https://"}, "webhookUrl"),
    ((SCENE, "Hello"), {"webhook_url": 42}, "webhookUrl"),
    (("#" * (200 * 1024), "Hello"), {}, "body"),
])
def test_invalid_arguments_send_no_request(make_client, args, kwargs, field):
    client, recorder, _ = make_client(sequence(QUEUED))
    with pytest.raises(ValidationError) as caught:
        client.render(*args, **kwargs)
    assert isinstance(caught.value, ValueError) and caught.value.field == field
    assert field in str(caught.value) and "\n" not in str(caught.value)
    assert recorder.count() == 0


@pytest.mark.parametrize("bad_id", ["", "   ", None, 42])
def test_bad_job_id_sends_no_request(make_client, bad_id):
    client, recorder, _ = make_client(sequence(httpx.Response(200, json=job_body())))
    with pytest.raises(ValidationError):
        client.get_job(bad_id)
    assert recorder.count() == 0


def test_a_key_passed_as_job_id_is_refused_without_a_request(make_client, caplog):
    caplog.set_level(logging.DEBUG)  # httpx logs every URL at INFO: the key must not get that far
    client, recorder, _ = make_client(sequence(httpx.Response(200, json=job_body())))
    with pytest.raises(ValidationError, match="API key, not a job id") as caught:
        client.get_job(KEY)
    assert caught.value.field == "jobId" and KEY[14:] not in str(caught.value)
    assert recorder.count() == 0 and KEY[14:] not in caplog.text


def test_404_on_me_points_at_the_base_url(make_client):
    client, _, _ = make_client(sequence(error_response(404, "not_found", "No route.")))
    with pytest.raises(NotFoundError, match="check the base URL") as caught:
        client.me()
    assert "job" not in str(caught.value)


def test_render_body_shape(make_client):
    client, recorder, _ = make_client(sequence(QUEUED))
    client.render(SCENE, "Hello")
    client.render(SCENE, "Hello", quality="low", aspect_ratio="9:16", fps=24, metadata={"cell": 3}, webhook_url=None)
    client.render(SCENE, "Hello", webhook_url="https://example.com/hook")
    first, second, third = recorder.bodies()
    assert first == {"code": SCENE, "className": "Hello", "quality": "medium", "aspectRatio": "16:9"}
    assert second == {"code": SCENE, "className": "Hello", "quality": "low", "aspectRatio": "9:16", "fps": 24,
                      "metadata": {"cell": 3}, "webhookUrl": None}
    assert third["webhookUrl"] == "https://example.com/hook"
    request = recorder.requests[0]
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert str(request.url) == f"{BASE_URL}/render"


def test_job_id_is_escaped_in_the_path(make_client):
    client, recorder, _ = make_client(sequence(httpx.Response(200, json=job_body(job_id="a/b?c"))))
    assert client.get_job("a/b?c").job_id == "a/b?c"
    assert recorder.requests[0].url.raw_path == b"/api/v2/render/a%2Fb%3Fc"


# -- parsing ----------------------------------------------------------------------------------

def test_unknown_fields_are_ignored(make_client):
    body = job_body(status="completed", priority="high", result={"video": "https://cdn/v.mp4", "hdr": True})
    client, _, _ = make_client(sequence(httpx.Response(200, json=body)))
    job = client.get_job("j1")
    assert job.result == RenderResult(video="https://cdn/v.mp4", thumbnail=None, captions=None)
    assert job.completed_at == datetime(2026, 4, 28, 17, 14, 6, 318000, tzinfo=timezone.utc)
    assert job.done and job.credits_cost == 1.25 and job.duration_ms == 4200


@pytest.mark.parametrize("change, field", [
    ({"status": None}, "status"), ({"createdAt": "yesterday"}, "createdAt"), ({"result": "oops"}, "result"),
    ({"durationMs": "4200"}, "durationMs"), ({"creditsCost": None}, "creditsCost"),
    ({"result": {"video": 3}}, "video"),
])
def test_contract_breaking_bodies_name_the_field(make_client, change, field):
    client, _, _ = make_client(sequence(httpx.Response(200, json=job_body(**change))))
    with pytest.raises(APIResponseError) as caught:
        client.get_job("j1")
    assert caught.value.field == field and f"`{field}`" in str(caught.value)


def test_missing_field_and_non_json_body(make_client):
    body = job_body()
    del body["createdAt"]
    client, _, _ = make_client(sequence(httpx.Response(200, json=body), httpx.Response(200, text="<html>")))
    with pytest.raises(APIResponseError, match="createdAt"):
        client.get_job("j1")
    with pytest.raises(APIResponseError, match="not JSON"):
        client.get_job("j1")


def test_me_parses_the_account(make_client):
    body = {"userId": "u1", "keyId": "k1", "keyPrefix": KEY[:14], "credits": {"paid": 10, "free": 2.5, "total": 12.5},
            "plan": "free"}
    client, _, _ = make_client(sequence(httpx.Response(200, json=body)))
    account = client.me()
    assert (account.user_id, account.key_id, account.key_prefix) == ("u1", "k1", "kdsc_live_9c1d")
    assert (account.credits.paid, account.credits.free, account.credits.total) == (10, 2.5, 12.5)


def test_a_failed_jobs_error_never_holds_more_than_the_key_prefix(make_client):
    body = job_body(status="failed", error=f"ValueError: {KEY} (line 3: API = {KEY!r})")
    client, _, _ = make_client(sequence(httpx.Response(200, json=body)))
    job = client.get_job("j1")
    assert job.error == "ValueError: kdsc_live_9c1d… (line 3: API = 'kdsc_live_9c1d…')"
    assert KEY[14:] not in repr(job) and KEY[14:] not in str(job.to_dict())


def test_an_account_never_holds_more_than_the_key_prefix(make_client):
    body = {"userId": "u1", "keyId": "k1", "keyPrefix": KEY, "credits": {"paid": 1, "free": 0, "total": 1}}
    client, _, _ = make_client(sequence(httpx.Response(200, json=body)))
    account = client.me()
    assert account.key_prefix == KEY[:14]
    assert KEY[14:] not in repr(account) and KEY[14:] not in str(account.to_dict())


def test_job_round_trips_through_the_contract_shape():
    body = job_body(status="completed", metadata={"cell": [1, "two", None]})
    job = Job.from_dict(body)
    assert job.to_dict() == body
    assert Job.from_dict(job.to_dict()) == job


# -- waiting ----------------------------------------------------------------------------------

def test_wait_reports_each_change_once(make_client):
    answers = [httpx.Response(200, json=job_body(status=s)) for s in ("queued", "running", "running", "completed")]
    client, recorder, _ = make_client(sequence(*answers))
    seen: list[str] = []
    job = client.wait("j1", on_update=lambda j: seen.append(j.status))
    assert job.status == "completed" and seen == ["queued", "running", "completed"]
    assert recorder.count("GET") == 4


def test_wait_returns_a_failed_job(make_client):
    client, _, _ = make_client(sequence(httpx.Response(200, json=job_body(status="failed"))))
    job = client.wait("j1")
    assert job.status == "failed" and "Circel" in job.error
    with pytest.raises(RenderFailedError) as caught:
        job.raise_for_status()
    assert caught.value.job is job and "Circel" in str(caught.value)


def test_wait_on_a_terminal_job_sends_nothing(make_client):
    client, recorder, _ = make_client(sequence(httpx.Response(500)))
    done = Job.from_dict(job_body(status="completed"))
    assert client.wait(done) is done and recorder.count() == 0


def test_wait_timeout_carries_the_last_job(make_client):
    client, _, clock = make_client(sequence(httpx.Response(200, json=job_body(status="running"))))
    with pytest.raises(WaitTimeoutError) as caught:
        client.wait("j1", timeout=10)
    assert caught.value.job.status == "running" and isinstance(caught.value, TimeoutError)
    assert clock.now == pytest.approx(10)


def test_wait_deadline_includes_retries(make_client):
    policy = RetryPolicy(base=4.0, cap=4.0, random=lambda: 1.0)
    answers = [httpx.Response(200, json=job_body(status="running")), error_response(503)]
    client, recorder, clock = make_client(sequence(*answers), max_retries=50, retry_policy=policy)
    with pytest.raises(WaitTimeoutError) as caught:
        client.wait("j1", timeout=15)
    assert clock.now == pytest.approx(15) and caught.value.job.status == "running"
    assert recorder.count() < 6


def test_wait_rides_out_an_outage_longer_than_one_requests_retries(make_client):
    answers = [httpx.Response(200, json=job_body(status="running")), *[error_response(503)] * 6,
               httpx.ConnectError("refused"), httpx.Response(200, json=job_body(status="completed"))]
    client, recorder, _ = make_client(sequence(*answers), max_retries=1)
    assert client.wait("j1").status == "completed"
    assert recorder.count("GET") == len(answers)


def test_wait_without_deadline_gives_up_after_a_long_outage(make_client):
    answers = [httpx.Response(200, json=job_body(status="running")), error_response(503)]
    client, _, clock = make_client(sequence(*answers), max_retries=1)
    with pytest.raises(ServerError):
        client.wait("j1")
    assert MAX_POLL_OUTAGE <= clock.now < MAX_POLL_OUTAGE + 60


def test_wait_with_deadline_turns_an_outage_into_a_timeout(make_client):
    answers = [httpx.Response(200, json=job_body(status="running")), httpx.ConnectError("refused")]
    client, _, clock = make_client(sequence(*answers), max_retries=0)
    with pytest.raises(WaitTimeoutError) as caught:
        client.wait("j1", timeout=40)
    assert caught.value.job.status == "running" and clock.now == pytest.approx(40)


def test_render_and_wait_raises_for_a_failed_job(make_client):
    client, _, _ = make_client(sequence(QUEUED, httpx.Response(200, json=job_body(job_id="j1", status="failed"))))
    seen: list[str] = []
    with pytest.raises(RenderFailedError) as caught:
        client.render_and_wait(SCENE, "Hello", quality="low", on_update=lambda j: seen.append(j.status))
    assert caught.value.job.job_id == "j1" and seen == ["queued", "failed"]


def test_wait_passes_the_hint_to_the_poll_policy(make_client):
    calls: list[tuple] = []

    class Recording(PollPolicy):
        def next_delay(self, elapsed, status, attempt, expected_seconds=None):
            calls.append((status, attempt, expected_seconds))
            return 2.0

    answers = [httpx.Response(200, json=job_body(status=s)) for s in ("running", "completed")]
    client, _, clock = make_client(sequence(QUEUED, *answers), poll_policy=Recording())
    client.render_and_wait(SCENE, "Hello", expected_seconds=12.5)
    assert calls == [("queued", 0, 12.5), ("running", 1, 12.5)] and clock.sleeps == [2.0, 2.0]


@pytest.mark.parametrize("options, field", [({"timeout": "5"}, "timeout"), ({"timeout": -1}, "timeout"),
                                            ({"on_update": "print"}, "on_update"),
                                            ({"expected_seconds": "12"}, "expected_seconds"),
                                            ({"expected_seconds": -1}, "expected_seconds")])
def test_bad_wait_options_fail_before_any_request(make_client, options, field):
    client, recorder, _ = make_client(sequence(QUEUED, httpx.Response(200, json=job_body(status="completed"))))
    with pytest.raises(ValidationError) as caught:
        client.render_and_wait(SCENE, "Hello", **options)
    assert caught.value.field == field and field in str(caught.value)
    with pytest.raises(ValidationError):
        client.wait("j1", **options)
    assert recorder.count() == 0  # no job was started only to fail on the first poll


async def test_async_on_update_may_be_a_coroutine():
    seen: list[str] = []

    async def record(job):
        seen.append(job.status)

    answers = sequence(httpx.Response(200, json=job_body(status="running")),
                       httpx.Response(200, json=job_body(status="completed")))
    clock = VirtualClock()
    async with AsyncKodisc(KEY, base_url=BASE_URL, transport=httpx.MockTransport(answers),
                           sleep=clock.async_sleep, clock=clock) as client:
        job = await client.wait("j1", on_update=record)
    assert job.done and seen == ["running", "completed"]


# -- downloads --------------------------------------------------------------------------------

def test_download_never_sends_the_key(make_client):
    client, recorder, _ = make_client(sequence(error_response(503), httpx.Response(200, content=b"\x00\x00\x00\x18ftyp")))
    assert client.download("https://cdn.kodisc.test/v.mp4") == b"\x00\x00\x00\x18ftyp"
    assert recorder.count("GET") == 2
    assert all("authorization" not in r.headers for r in recorder.requests)


def test_download_of_a_missing_asset(make_client):
    client, _, _ = make_client(sequence(httpx.Response(404, text="Not Found")))
    with pytest.raises(NotFoundError, match="asset.*expire"):
        client.download("https://cdn.kodisc.test/gone.vtt")


# -- the key stays secret ---------------------------------------------------------------------

def test_key_never_in_repr_errors_or_logs(make_client, caplog):
    caplog.set_level(logging.DEBUG)
    leaky = f"bad key {KEY} sent as Authorization: Bearer {KEY}"
    answers = [error_response(401, "invalid_key", leaky), error_response(400, leaky, leaky),
               httpx.ConnectError(f"refused for {KEY}"), httpx.ReadTimeout("slow")]
    client, _, _ = make_client(sequence(*answers), max_retries=0)
    texts = [repr(client)]
    for call in (client.me, lambda: client.render(SCENE, "Hello"), client.me, lambda: client.render(SCENE, "Hello")):
        with pytest.raises(KodiscError) as caught:
            call()
        texts += [str(caught.value), repr(caught.value), str(getattr(caught.value, "message", "")),
                  str(getattr(caught.value, "code", ""))]
    logging.getLogger("kodisc_jupyter.client").debug("headers %s", {"Authorization": f"Bearer {KEY}"})
    texts.append(caplog.text)
    assert "kdsc_live_9c1d" in repr(client)
    for text in texts:
        assert KEY not in text and KEY[14:30] not in text
    assert any("[redacted]" in r.getMessage() for r in caplog.records)


def test_key_unfit_for_a_header_fails_without_a_request(make_client):
    client, recorder, _ = make_client(sequence(httpx.Response(200, json=job_body())), api_key=KEY[:30] + "\x00" + KEY[30:])
    with pytest.raises(AuthenticationError, match="control characters") as caught:
        client.get_job("j1")
    assert KEY[14:30] not in str(caught.value) and recorder.count() == 0


@pytest.mark.parametrize("url", ["http://", "kodisc.com/api/v2", "ftp://kodisc.com/api/v2", "https:///api/v2"])
def test_a_base_url_without_scheme_or_host_is_refused_naming_its_source(url, monkeypatch):
    from kodisc_jupyter import Kodisc

    with pytest.raises(ValidationError, match="base_url must be an http.s. URL with a host") as caught:
        Kodisc(KEY, base_url=url)
    assert caught.value.field == "base_url" and repr(url) in str(caught.value)
    monkeypatch.setenv("KODISC_BASE_URL", url)
    with pytest.raises(ValidationError, match="KODISC_BASE_URL must be"):
        Kodisc(KEY)


def test_key_comes_from_the_environment_in_order(monkeypatch):
    from kodisc_jupyter import Kodisc
    from kodisc_jupyter.credentials import save_key

    other = "kdsc_live_" + "a" * 48
    saved = "kdsc_live_" + "b" * 48
    save_key(saved)
    assert Kodisc().key_prefix == saved[:14]
    monkeypatch.setenv("KODISC_KEY", other)
    assert Kodisc().key_prefix == other[:14]
    monkeypatch.setenv("KODISC_API_KEY", KEY)
    assert Kodisc().key_prefix == KEY[:14]
    assert Kodisc("kdsc_live_" + "c" * 48).key_prefix == "kdsc_live_cccc"
    monkeypatch.setenv("KODISC_BASE_URL", "http://127.0.0.1:9/api/v2/")
    assert Kodisc().base_url == "http://127.0.0.1:9/api/v2"
    assert Kodisc(base_url="https://other.test/v2").base_url == "https://other.test/v2"

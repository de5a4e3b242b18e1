"""Bad input, tried as an attacker would, across the server, client, webhooks, CLI and magic.

Every row asserts the exact answer (status + JSON error code + field; exception type + message
fragment; exit code + one line) and that no job was made (the session server's job_count before
and after). The server rows go over real loopback HTTP to the session's simulated server.
"""
from __future__ import annotations

import asyncio
import json
import socket

import httpx
import pytest

from kodisc_jupyter.client import Kodisc
from kodisc_jupyter.errors import ValidationError, WebhookVerificationError
from kodisc_jupyter.webhooks import verify

KEY_LIKE = "kdsc_live_" + "ab12" * 12  # key-shaped, never a real key
TWO_SCENES = "from manim import *\nclass A(Scene):\n    pass\nclass B(Scene):\n    pass\n"
ONE_SCENE = "from manim import *\nclass A(Scene):\n    def construct(self):\n        pass\n"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def body(**fields) -> bytes:
    return json.dumps({"code": ONE_SCENE, "className": "A", **fields}).encode()


def raw_body(extra: str) -> bytes:
    """A body with `extra` spliced in as raw JSON text (for what json.dumps cannot write)."""
    return ('{"code": ' + json.dumps(ONE_SCENE) + ', "className": "A", ' + extra + "}").encode()


# -- server: POST /render ------------------------------------------------------------------------

SERVER_BODIES = [  # (id, raw request body, status, error, field)
    ("fps-2^63", body(fps=2**63), 400, "invalid_request", "fps"),
    ("fps-10^20", body(fps=10**20), 400, "invalid_request", "fps"),
    ("fps-0", body(fps=0), 400, "invalid_request", "fps"),
    ("fps-241", body(fps=241), 400, "invalid_request", "fps"),
    ("fps-float", body(fps=30.5), 400, "invalid_request", "fps"),
    ("fps-string", body(fps="30"), 400, "invalid_request", "fps"),
    ("fps-bool", body(fps=True), 400, "invalid_request", "fps"),
    ("fps-5000-digits", raw_body('"fps": ' + "9" * 5000), 400, "invalid_request", "body"),
    ("code-lone-surrogate", b'{"code": "\\ud800", "className": "A"}', 400, "invalid_request", "code"),
    ("metadata-lone-surrogate", raw_body('"metadata": {"a": "\\udfff"}'), 400, "invalid_request", "metadata"),
    ("metadata-nan", raw_body('"metadata": {"a": NaN}'), 400, "invalid_request", "metadata"),
    ("metadata-20000-deep", raw_body('"metadata": ' + nested(20000)), 400, "invalid_request", "body"),
    ("body-100000-deep", nested(100000).encode(), 400, "invalid_request", "body"),
    ("body-34-deep", nested(34).encode(), 400, "invalid_request", "body"),
    ("body-array", b"[]", 400, "invalid_request", "body"),
    ("body-not-json", b"{code:", 400, "invalid_request", "body"),
    ("body-not-utf8", b'{"code": "\xff\xfe", "className": "A"}', 400, "invalid_request", "body"),
    ("body-over-200kb", body(code="#" * 210_000), 400, "invalid_request", "body"),
    ("code-missing", b'{"className": "A"}', 400, "invalid_request", "code"),
    ("className-digit", body(className="1bad"), 400, "invalid_request", "className"),
    ("className-key", body(className=KEY_LIKE + "!"), 400, "invalid_request", "className"),
    ("quality-unknown", body(quality="ultra"), 400, "invalid_request", "quality"),
    ("aspect-unknown", body(aspectRatio="4:3"), 400, "invalid_request", "aspectRatio"),
    ("webhook-bad-ipv6", body(webhookUrl="https://[zz]/"), 400, "invalid_request", "webhookUrl"),
    ("webhook-port-99999", body(webhookUrl="https://example.com:99999/"), 400, "invalid_request", "webhookUrl"),
    ("webhook-port-0", body(webhookUrl="https://example.com:0/"), 400, "invalid_request", "webhookUrl"),
    ("webhook-newline", body(webhookUrl="https://example.com/\nx"), 400, "invalid_request", "webhookUrl"),
    ("webhook-credentials", body(webhookUrl="https://u:p@example.com/"), 400, "invalid_request", "webhookUrl"),
    ("webhook-http", body(webhookUrl="http://example.com/"), 400, "invalid_request", "webhookUrl"),
    ("webhook-no-host", body(webhookUrl="https:///hook"), 400, "invalid_request", "webhookUrl"),
    ("webhook-number", body(webhookUrl=5), 400, "invalid_request", "webhookUrl"),
    ("ssrf-metadata", body(webhookUrl="https://169.254.169.254/latest/meta-data"), 400, "invalid_request",
     "webhookUrl"),
    ("ssrf-localhost", body(webhookUrl="https://localhost/"), 400, "invalid_request", "webhookUrl"),
    ("ssrf-sub-localhost", body(webhookUrl="https://a.localhost./"), 400, "invalid_request", "webhookUrl"),
    ("ssrf-ipv6-loopback", body(webhookUrl="https://[::1]/"), 400, "invalid_request", "webhookUrl"),
    ("ssrf-zero", body(webhookUrl="https://0/"), 400, "invalid_request", "webhookUrl"),
    ("ssrf-decimal", body(webhookUrl="https://2130706433/"), 400, "invalid_request", "webhookUrl"),
    ("ssrf-octal", body(webhookUrl="https://0177.0.0.1/"), 400, "invalid_request", "webhookUrl"),
    ("ssrf-hex", body(webhookUrl="https://0x7f.1/"), 400, "invalid_request", "webhookUrl"),
    ("ssrf-short", body(webhookUrl="https://127.1/"), 400, "invalid_request", "webhookUrl"),
    ("ssrf-v4-mapped", body(webhookUrl="https://[::ffff:127.0.0.1]/"), 400, "invalid_request", "webhookUrl"),
    ("ssrf-private", body(webhookUrl="https://10.1.2.3/"), 400, "invalid_request", "webhookUrl"),
    ("ssrf-link-local-v6", body(webhookUrl="https://[fe80::1]/"), 400, "invalid_request", "webhookUrl"),
    ("ssrf-nat64-metadata", body(webhookUrl="https://[64:ff9b::a9fe:a9fe]/"), 400, "invalid_request",
     "webhookUrl"),
]


@pytest.fixture(scope="module")
def server(sim_server):
    return sim_server


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.base_url, timeout=30,
                      headers={"Authorization": f"Bearer {server.api_key}"}) as client:
        yield client


def assert_json_error(response: httpx.Response, status: int, error: str, server) -> dict:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    answer = response.json()
    assert answer["error"] == error and answer["message"]
    assert "\n" not in answer["message"] and "Traceback" not in response.text
    assert server.api_key not in response.text and KEY_LIKE not in response.text
    return answer


@pytest.mark.parametrize(("raw", "status", "error", "field"), [case[1:] for case in SERVER_BODIES],
                         ids=[case[0] for case in SERVER_BODIES])
def test_server_refuses_bad_bodies_with_json_and_makes_no_job(server, http, raw, status, error, field):
    before = server.job_count()
    response = http.post("/render", content=raw, headers={"content-type": "application/json"})
    answer = assert_json_error(response, status, error, server)
    assert answer.get("field") == field
    assert server.job_count() == before


SERVER_REQUESTS = [  # (id, method, path, headers, status, error)
    ("auth-key-in-path", "GET", f"/render/{KEY_LIKE}", {}, 404, "not_found"),
    ("auth-malformed", "GET", "/me", {"Authorization": "Bearer " + KEY_LIKE[:-1]}, 401, "unauthorized"),
    ("auth-wrong-scheme", "GET", "/me", {"Authorization": "Basic abc"}, 401, "unauthorized"),
    ("unknown-route", "GET", "/renders", {}, 404, "not_found"),
    ("wrong-method", "DELETE", "/render", {}, 405, "method_not_allowed"),
]


@pytest.mark.parametrize(("method", "path", "headers", "status", "error"), [case[1:] for case in SERVER_REQUESTS],
                         ids=[case[0] for case in SERVER_REQUESTS])
def test_server_refuses_bad_requests_with_json(server, http, method, path, headers, status, error):
    before = server.job_count()
    assert_json_error(http.request(method, path, headers=headers), status, error, server)
    assert server.job_count() == before


@pytest.fixture(scope="module")
def finished_job(server):
    with Kodisc(server.api_key, base_url=server.base_url) as client:
        return client.render_and_wait(ONE_SCENE, "A", quality="low", timeout=60)


RANGES = [  # (id, Range header, status, error)
    ("range-not-bytes", "items=0-10", 400, "invalid_request"),
    ("range-no-equals", "bytes", 400, "invalid_request"),
    ("range-letters", "bytes=a-b", 400, "invalid_request"),
    ("range-reversed", "bytes=10-5", 400, "invalid_request"),
    ("range-past-end", "bytes=999999999-", 416, "range_not_satisfiable"),
]


@pytest.mark.parametrize(("header", "status", "error"), [case[1:] for case in RANGES], ids=[c[0] for c in RANGES])
def test_asset_ranges_are_json_errors(server, finished_job, header, status, error):
    before = server.job_count()
    response = httpx.get(finished_job.result.video, headers={"Range": header})
    assert_json_error(response, status, error, server)
    assert response.headers["access-control-allow-origin"] == "*"
    if status == 416:
        assert response.headers["content-range"].startswith("bytes */")
    assert server.job_count() == before


def test_a_good_range_still_serves_bytes(finished_job):
    response = httpx.get(finished_job.result.video, headers={"Range": "bytes=0-9"})
    assert response.status_code == 206 and len(response.content) == 10


def test_simulated_render_is_stopped_at_the_render_timeout(tmp_path):
    """`simulate.seconds: 1e308` would hold a worker forever; --render-timeout stops it like a real render."""
    from kodisc_jupyter.server import start_local_server

    with start_local_server(tmp_path / "s", renderer="simulate", render_timeout=0.5) as short, \
            Kodisc(short.api_key, base_url=short.base_url) as client:
        job = client.render(ONE_SCENE, "A", metadata={"simulate": {"seconds": 1e308}})
        final = client.wait(job, timeout=20)
    assert final.status == "failed" and "took longer than 0.5 s" in final.error


def test_delivery_checks_the_resolved_address_again():
    """A name that passes the door (not an IP literal, not localhost) but resolves inside is not delivered to."""
    from kodisc_jupyter.server._delivery import InternalTarget, pinned_address, webhook_url_problem

    name = socket.gethostname()  # resolves to this machine (loopback or a private address)
    url = f"https://{name}/hook"
    if webhook_url_problem(url, allow_http=False) is not None:
        pytest.skip(f"{name} is refused at the door already")
    with pytest.raises(InternalTarget, match="not delivered"):
        asyncio.run(pinned_address(httpx.URL(url), False))
    assert asyncio.run(pinned_address(httpx.URL("https://localhost/"), True)) in ("127.0.0.1", "::1")


# -- client ----------------------------------------------------------------------------------------

DEEP = []
_level = DEEP
for _ in range(3000):
    _level.append([])
    _level = _level[0]

CLIENT_RENDERS = [  # (id, render() keyword arguments, field, message fragment)
    ("code-lone-surrogate", {"code": "x = '\ud800'"}, "code", "lone surrogate"),
    ("code-empty", {"code": ""}, "code", "non-empty string"),
    ("className-digit", {"class_name": "1A"}, "className", "Python identifier"),
    ("quality", {"quality": "ultra"}, "quality", "must be one of"),
    ("aspect", {"aspect_ratio": "1:1"}, "aspectRatio", "must be one of"),
    ("fps-0", {"fps": 0}, "fps", "from 1 to 240"),
    ("fps-241", {"fps": 241}, "fps", "from 1 to 240"),
    ("fps-huge", {"fps": 10**20}, "fps", "from 1 to 240"),
    ("fps-float", {"fps": 24.0}, "fps", "from 1 to 240"),
    ("metadata-3000-deep", {"metadata": DEEP}, "metadata", "32 levels"),
    ("metadata-nan", {"metadata": {"x": float("nan")}}, "metadata", "finite"),
    ("metadata-int-key", {"metadata": {1: "a"}}, "metadata", "keys must be strings"),
    ("metadata-object", {"metadata": {"x": object()}}, "metadata", "must be JSON"),
    ("metadata-big-int", {"metadata": {"x": 10**5000}}, "metadata", "300 digits"),
    ("webhook-bad-ipv6", {"webhook_url": "https://[zz]/"}, "webhookUrl", "not a valid URL"),
    ("webhook-port", {"webhook_url": "https://example.com:65536/"}, "webhookUrl", "port from 1 to 65535"),
    ("webhook-control", {"webhook_url": "https://example.com/\x00"}, "webhookUrl", "control characters"),
    ("webhook-credentials", {"webhook_url": "https://me:pw@example.com/"}, "webhookUrl", "user name or password"),
    ("webhook-http", {"webhook_url": "http://example.com/"}, "webhookUrl", "https://"),
    ("webhook-long", {"webhook_url": "https://example.com/" + "a" * 3000}, "webhookUrl", "2048"),
]


@pytest.mark.parametrize(("options", "field", "fragment"), [case[1:] for case in CLIENT_RENDERS],
                         ids=[case[0] for case in CLIENT_RENDERS])
def test_client_refuses_before_sending(server, options, field, fragment):
    before = server.job_count()
    arguments = {"code": ONE_SCENE, "class_name": "A", **options}
    with Kodisc(server.api_key, base_url=server.base_url) as client:
        with pytest.raises(ValidationError) as caught:
            client.render(arguments.pop("code"), arguments.pop("class_name"), **arguments)
    assert caught.value.field == field and fragment in str(caught.value)
    assert "\n" not in str(caught.value)
    assert server.job_count() == before


def test_client_render_and_wait_names_itself_for_an_unknown_option(server):
    before = server.job_count()
    with Kodisc(server.api_key, base_url=server.base_url) as client:
        with pytest.raises(ValidationError, match=r"^render_and_wait\(\) got an unknown option 'bogus'"):
            client.render_and_wait(ONE_SCENE, "A", bogus=1)
    assert server.job_count() == before


BASE_URLS = ["", " ", "ftp://example.com", "https://[zz]/api/v2", "https://h:99999/api", "https://exa mple.com/api/v2",
             "example.com/api/v2"]


@pytest.mark.parametrize("base_url", BASE_URLS)
def test_client_refuses_bad_base_urls(base_url):
    with pytest.raises(ValidationError) as caught:
        Kodisc(KEY_LIKE, base_url=base_url)
    assert caught.value.field == "base_url"


CLIENT_NUMBERS = [  # (id, call on a client, field)
    ("http-timeout-nan", lambda server: Kodisc(KEY_LIKE, base_url=server.base_url, timeout=float("nan")), "timeout"),
    ("http-timeout-inf", lambda server: Kodisc(KEY_LIKE, base_url=server.base_url, timeout=float("inf")), "timeout"),
    ("wait-timeout-nan", lambda server: Kodisc(server.api_key, base_url=server.base_url).render_and_wait(
        ONE_SCENE, "A", timeout=float("nan")), "timeout"),
    ("wait-expected-inf", lambda server: Kodisc(server.api_key, base_url=server.base_url).render_and_wait(
        ONE_SCENE, "A", expected_seconds=float("inf")), "expected_seconds"),
]


@pytest.mark.parametrize(("call", "field"), [case[1:] for case in CLIENT_NUMBERS],
                         ids=[case[0] for case in CLIENT_NUMBERS])
def test_client_refuses_numbers_that_are_not_seconds(server, call, field):
    before = server.job_count()
    with pytest.raises(ValidationError) as caught:
        call(server)
    assert caught.value.field == field
    assert server.job_count() == before


def test_client_repr_hides_a_base_url_password():
    client = Kodisc(KEY_LIKE, base_url="https://user:hunter2@example.com/api/v2")
    assert "hunter2" not in repr(client) and "user:***@example.com" in repr(client)
    assert KEY_LIKE not in repr(client)


# -- webhooks.verify ------------------------------------------------------------------------------

SECRET = "whsec_test"
VERIFY_HEADERS = [  # (id, header, reason)
    ("timestamp-5000-digits", "t=" + "9" * 5000 + ",v1=00", "malformed_header"),
    ("timestamp-13-digits", "t=" + "9" * 13 + ",v1=00", "malformed_header"),
    ("header-10k", "t=1," + "v1=00," * 2000, "malformed_header"),
    ("bytes-not-latin", b"t=1,v1=\xff\xfe", "signature_mismatch"),
    ("none", None, "missing_header"),
    ("blank", "   ", "missing_header"),
    ("no-timestamp", "v1=00", "malformed_header"),
    ("two-timestamps", "t=1,t=2,v1=00", "malformed_header"),
    ("no-signature", "t=1", "no_signature"),
    ("unicode-digits", "t=١٢٣,v1=00", "malformed_header"),
    ("nul", "t=1\x00,v1=00", "malformed_header"),
]


@pytest.mark.parametrize(("header", "reason"), [case[1:] for case in VERIFY_HEADERS],
                         ids=[case[0] for case in VERIFY_HEADERS])
def test_verify_ends_every_str_or_bytes_header_in_its_own_error(header, reason):
    with pytest.raises(WebhookVerificationError) as caught:
        verify(b"{}", header, SECRET, now=1)
    assert caught.value.reason == reason and "\n" not in str(caught.value)


VERIFY_TYPES = [  # (id, payload, header, secret, the parameter named)
    ("header-int", b"{}", 12, SECRET, "signature_header"),
    ("header-list", b"{}", ["t=1"], SECRET, "signature_header"),
    ("payload-int", 12, "t=1,v1=00", SECRET, "payload"),
    ("secret-bytes", b"{}", "t=1,v1=00", b"whsec_test", "secret"),
]


@pytest.mark.parametrize(("payload", "header", "secret", "parameter"), [case[1:] for case in VERIFY_TYPES],
                         ids=[case[0] for case in VERIFY_TYPES])
def test_verify_names_a_wrongly_typed_parameter(payload, header, secret, parameter):
    with pytest.raises(TypeError, match=rf"verify\({parameter}=\.\.\.\)"):
        verify(payload, header, secret)


def test_verify_refuses_a_payload_that_is_not_text():
    with pytest.raises(WebhookVerificationError) as caught:
        verify("\ud800", "t=1,v1=00", SECRET, now=1)
    assert caught.value.reason == "signature_mismatch"


# -- CLI -------------------------------------------------------------------------------------------

@pytest.fixture
def cli(capsys, monkeypatch, server, tmp_path):
    """`kodisc ARGS` in this process against the session server: (exit code, its one stderr line)."""
    from kodisc_jupyter.cli.main import main

    monkeypatch.setenv("KODISC_API_KEY", server.api_key)
    monkeypatch.setenv("KODISC_BASE_URL", server.base_url)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "two.py").write_text(TWO_SCENES)
    (tmp_path / "one.py").write_text(ONE_SCENE)

    def run(*args: str) -> tuple[int, str]:
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse
            code = exit_.code
        out, err = capsys.readouterr()
        assert KEY_LIKE not in out + err and server.api_key not in out + err and "Traceback" not in err
        lines = err.strip().splitlines()
        return code, lines[-1] if lines else ""

    return run


CLI_CASES = [  # (id, arguments, exit code, fragment of the last stderr line)
    ("resume-a-key", ["resume", KEY_LIKE], 2, "job kdsc_live_ab12… is not in the local history"),
    ("render-two-scenes", ["render", "two.py"], 2, "the file defines several scenes (A, B)"),
    ("render-missing-class", ["render", "one.py", "Nope"], 2, "class 'Nope' is not defined in the file"),
    ("render-key-as-file", ["render", KEY_LIKE + ".py"], 2, "cannot read kdsc_live_ab12…"),
    ("render-fps-0", ["render", "one.py", "--fps", "0"], 2, "--fps: must be 1..240, got 0"),
    ("render-fps-241", ["render", "one.py", "--fps", "241"], 2, "--fps: must be 1..240, got 241"),
    ("render-fps-nan", ["render", "one.py", "--fps", "nan"], 2, "--fps: expected a whole number"),
    ("render-quality-key", ["render", "one.py", "--quality", KEY_LIKE], 2, "invalid choice: 'kdsc_live_ab12…'"),
    ("render-output-not-mp4", ["render", "one.py", "-o", "x.txt"], 2, "-o must name a .mp4 file"),
    ("jobs-limit-0", ["jobs", "--limit", "0"], 2, "must be >= 1, got 0"),
    ("set-webhook-bad-ipv6", ["keys", "set-webhook", "https://[zz]/", "--data-dir", "d"], 2,
     "webhookUrl is not a valid URL"),
    ("set-webhook-metadata", ["keys", "set-webhook", "https://169.254.169.254/", "--data-dir", "d"], 2,
     "link-local address"),
    ("serve-timeout-nan", ["serve", "--render-timeout", "nan", "--data-dir", "d"], 2,
     "--render-timeout: expected a number of seconds, got 'nan'"),
    ("serve-timeout-inf", ["serve", "--render-timeout", "inf", "--data-dir", "d"], 2,
     "--render-timeout: expected a number of seconds, got 'inf'"),
    ("serve-timeout-negative", ["serve", "--render-timeout", "-1", "--data-dir", "d"], 2,
     "--render-timeout: must be more than 0 seconds"),
]


@pytest.mark.parametrize(("args", "code", "fragment"), [case[1:] for case in CLI_CASES],
                         ids=[case[0] for case in CLI_CASES])
def test_cli_answers_bad_input_in_one_line(cli, server, args, code, fragment):
    before = server.job_count()
    exit_code, line = cli(*args)
    assert exit_code == code and fragment in line, line
    assert server.job_count() == before


# -- magic ------------------------------------------------------------------------------------------

@pytest.fixture
def shell(monkeypatch, server):
    from IPython.testing import globalipapp

    from kodisc_jupyter.rendering import pipeline

    monkeypatch.setenv("KODISC_API_KEY", server.api_key)
    monkeypatch.setenv("KODISC_BASE_URL", server.base_url)
    globalipapp.start_ipython()
    ip = globalipapp.get_ipython()
    ip.run_line_magic("load_ext", "kodisc_jupyter")
    states: list[str] = []
    unsubscribe = pipeline.subscribe(lambda progress: states.append(progress.state))
    ip.kodisc_states = states
    yield ip
    unsubscribe()
    ip.run_line_magic("unload_ext", "kodisc_jupyter")


MAGIC_CASES = [  # (id, options line, cell, fragment of the one-line error)
    ("webhook-bad-ipv6", "A --webhook-url https://[zz]/", ONE_SCENE, "--webhook-url: is not a valid URL"),
    ("webhook-port", "A --webhook-url https://example.com:99999/", ONE_SCENE, "port from 1 to 65535"),
    ("webhook-http", "A --webhook-url http://example.com/", ONE_SCENE, "must be an https:// URL"),
    ("out-digit", "A --out 1bad", ONE_SCENE, "--out: must be a Python variable name"),
    ("out-space", "A --out 'a b'", ONE_SCENE, "--out: must be a Python variable name"),
    ("out-keyword", "A --out class", ONE_SCENE, "--out: must be a Python variable name"),
    ("fps-0", "A --fps 0", ONE_SCENE, "must be 1..240, got 0"),
    ("fps-241", "A --fps 241", ONE_SCENE, "must be 1..240, got 241"),
    ("fps-inf", "A --fps 1e400", ONE_SCENE, "whole number of frames per second"),
    ("quality-key", f"A -q {KEY_LIKE}", ONE_SCENE, "kdsc_live_ab12…"),
    ("metadata-deep", "A --metadata '" + nested(40) + "'", ONE_SCENE, "metadata nests more than 32 levels"),
    ("metadata-nan", "A --metadata '{\"a\": NaN}'", ONE_SCENE, "metadata numbers must be finite"),
    ("code-lone-surrogate", "A", ONE_SCENE + "x = '\ud800'\n", "lone surrogate"),
    ("two-scenes", "", TWO_SCENES, "the cell defines several scenes (A, B)"),
]


@pytest.mark.parametrize(("line", "cell", "fragment"), [case[1:] for case in MAGIC_CASES],
                         ids=[case[0] for case in MAGIC_CASES])
def test_magic_answers_bad_input_in_one_line_without_submitting(shell, server, line, cell, fragment):
    from kodisc_jupyter.jupyter.display import CellError

    before = server.job_count()
    with pytest.raises(CellError) as caught:
        shell.run_cell_magic("kodisc", line, cell)
    message = str(caught.value)
    assert fragment in message and "\n" not in message and KEY_LIKE not in message
    assert "submitting" not in shell.kodisc_states  # the status bar never claimed to send it
    assert server.job_count() == before


MAGIC_RESUMES = [  # (id, %kodisc_resume line, fragment of the one-line error)
    ("resume-a-key", KEY_LIKE, "That is an API key, not a job id"),
    ("resume-5000-chars", "x" * 5000, "No job " + "x" * 37 + "… in the history"),
]


@pytest.mark.parametrize(("line", "fragment"), [case[1:] for case in MAGIC_RESUMES],
                         ids=[case[0] for case in MAGIC_RESUMES])
def test_magic_resume_answers_a_bad_job_id_briefly(shell, server, line, fragment):
    from kodisc_jupyter.jupyter.display import CellError

    before = server.job_count()
    with pytest.raises(CellError) as caught:
        shell.run_line_magic("kodisc_resume", line)
    message = str(caught.value)
    assert fragment in message and "\n" not in message and KEY_LIKE not in message and len(message) < 300
    assert server.job_count() == before


def test_the_count_in_docs_matches_this_table():
    """docs/testing.md states how many bad inputs this file tries; keep it true."""
    from pathlib import Path

    singles = 4  # simulate.seconds 1e308, a name resolving inside, render_and_wait(bogus=1), a non-text payload
    count = (len(SERVER_BODIES) + len(SERVER_REQUESTS) + len(RANGES) + len(CLIENT_RENDERS) + len(BASE_URLS)
             + len(CLIENT_NUMBERS)
             + len(VERIFY_HEADERS) + len(VERIFY_TYPES) + len(CLI_CASES) + len(MAGIC_CASES) + len(MAGIC_RESUMES) + singles)
    docs = (Path(__file__).parents[2] / "docs" / "testing.md").read_text(encoding="utf-8")
    assert f"{count} bad inputs" in docs, count

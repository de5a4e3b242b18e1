"""The full key never leaves the local server: not in a log line (DEBUG included), a repr, a body or an error."""
from __future__ import annotations

import json
import logging
import subprocess
import sys

import httpx

from kodisc_jupyter.server import start_local_server


def test_no_full_key_in_logs_reprs_or_answers(tmp_path, make_user, make_receiver, caplog):
    caplog.set_level(logging.DEBUG)  # every logger: ours, uvicorn's, httpx's (webhook deliveries)
    hook = make_receiver()
    with start_local_server(tmp_path / "server", renderer="simulate") as server:
        other = server.create_user()
        keys = [server.api_key, other.api_key]
        server.set_default_webhook(hook.url)  # http:// without --allow-http-webhooks: skipped with a warning
        user = make_user(server)
        texts = [repr(server), str(server), repr(other), str(other), repr(vars(server))]
        job = user.wait(user.submit(metadata={"simulate": {"seconds": 0.1}}))
        texts += [repr(job), json.dumps(job.to_dict(), ensure_ascii=False)]
        raw = httpx.Client(base_url=server.base_url)
        wrong_key = server.api_key[:-1] + ("1" if server.api_key.endswith("0") else "0")  # one in 16 keys ends in 0
        for headers, path in [({"Authorization": f"Bearer {wrong_key}"}, "/me"),
                              ({"Authorization": f"Token {server.api_key}"}, "/me"),
                              ({"Authorization": f"Bearer {server.api_key}"}, f"/render/{other.api_key}"),
                              ({"Authorization": f"Bearer {server.api_key}"}, "/render/c" + "0" * 24),
                              ({}, f"/{server.api_key}"), ({}, f"/r/{other.api_key}/video.mp4")]:
            answer = raw.get(path, headers=headers)
            assert answer.status_code in (401, 404)
            texts.append(answer.text)
        raw.close()
    assert any("not delivering to the default webhook" in record.getMessage() for record in caplog.records)
    # httpx logs the URLs this test itself requests (some hold a key on purpose); everything else counts
    texts += [record.getMessage() for record in caplog.records
              if not (record.name == "httpx" and "HTTP Request" in record.getMessage())]
    for text in texts:
        for key in keys:
            assert key[14:] not in text, text


def test_the_server_logger_redacts_in_a_process_that_made_no_client():
    """`kodisc serve` never creates a Kodisc client, whose creation would sweep the filter onto loggers."""
    key = "kdsc_live_" + "7a" * 24
    script = ("import logging, sys\n"
              "logging.basicConfig(stream=sys.stdout, level=logging.DEBUG)\n"
              "import kodisc_jupyter.server._local\n"
              f"logging.getLogger('kodisc_jupyter.server').warning('key %s', {key!r})\n")
    shown = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60).stdout
    assert "key kdsc_live_7a7a…" in shown and key not in shown

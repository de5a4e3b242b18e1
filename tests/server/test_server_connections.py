"""Connections that never finish a request's headers are closed, without holding up anyone else."""
from __future__ import annotations

import socket
import time

import pytest

from kodisc_jupyter.server import _http, start_local_server


@pytest.fixture
def quick_deadline(monkeypatch, tmp_path):
    monkeypatch.setattr(_http, "HEADER_TIMEOUT", 0.5)
    with start_local_server(tmp_path / "server", renderer="simulate") as server:
        yield server


def _closed_after(sock: socket.socket, limit: float = 5.0) -> float:
    """Seconds until the server closed `sock` (reading returns b"" or the connection is reset)."""
    started = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(1024):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - started


@pytest.mark.parametrize("sent", [b"", b"GET /api/v2/me HTTP/1.1\r\nHost: x\r\n"])
def test_a_connection_without_whole_headers_is_closed(quick_deadline, sent):
    host, port = quick_deadline.public_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(sent)
        assert _closed_after(sock) < 3.0  # 0.5 s deadline; not the 75 s or more it was


def test_headers_again_slow_after_a_kept_alive_answer_are_closed_too(quick_deadline):
    host, port = quick_deadline.public_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"GET /api/v2/me HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 401")
        sock.sendall(b"GET /api/v2/me HTTP/1.1\r\n")  # the next request, stalled mid-headers
        assert _closed_after(sock) < 3.0


def test_a_slow_but_complete_request_is_answered(quick_deadline):
    host, port = quick_deadline.public_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        for part in (b"GET /api/v2/me HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
            sock.sendall(part)
            time.sleep(0.1)
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 401")

"""uvicorn's h11 protocol with a deadline for a request's headers.

uvicorn closes a connection idle *between* requests (keep-alive), but not one that connects and
sends nothing, or half a request line and then waits: each such connection is held open for as
long as the client likes, so a few hundred of them use up the server's sockets. Here every request's
headers must be complete within HEADER_TIMEOUT seconds of the connection (or of the previous
response), or the connection is closed.
"""
from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT = 10.0


class HeaderDeadlineProtocol(H11Protocol):
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._expect_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._expect_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._expect_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._clear()
        super().connection_lost(exc)

    def _expect_headers(self) -> None:
        """Arm the deadline while no request's headers are in (once per request), drop it once they are."""
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            self._clear()
        elif self._deadline is None:
            self._deadline = self.loop.call_later(HEADER_TIMEOUT, self._expired)

    def _expired(self) -> None:
        self._deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def _clear(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

"""Webhook delivery: one signed POST per terminal transition, retried on the contract's schedule.

A delivery counts when the receiver answers 2xx within `answer_timeout` seconds; otherwise it is
retried `retry_delays` seconds after the first attempt (30 s, 5 min, 30 min like Kodisc; tests
pass short ones). Deliveries live in the server's event loop and are not kept across restarts.
"""
from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
from urllib.parse import urlsplit

import httpx

from .._logging import get_logger
from ..contract._errors import ValidationError
from ..contract._rules import webhook_url_parts
from ..contract._webhooks import sign

logger = get_logger("kodisc_jupyter.server")  # with the redaction filter, like every package logger
DEFAULT_RETRY_DELAYS = (30.0, 300.0, 1800.0)
ANSWER_TIMEOUT = 10.0
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
#: What `inet_aton` reads as an IPv4 address: 2130706433, 0177.0.0.1, 0x7f.1, 127.1, 0 ...
_IPV4_SPELLING = re.compile(r"[0-9a-fx.]+", re.IGNORECASE)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def literal_address(host: str) -> Address | None:
    """The address a host written as an IP literal means, in any spelling the resolver accepts; None for a name."""
    host = host.rstrip(".")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _IPV4_SPELLING.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def address_kind(address: Address) -> str | None:
    """Why a webhook must not go to `address` ("loopback", "link-local", ...), or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_kind(embedded) or None
    for kind in ("link_local", "loopback", "unspecified", "private", "multicast", "reserved"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if address.is_global else "non-public"


def _host_kind(host: str) -> str | None:
    name = host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return "loopback"
    address = literal_address(host)
    return address_kind(address) if address is not None else None


def _refused(kind: str, allow_loopback: bool) -> bool:
    return not (allow_loopback and kind == "loopback")


def webhook_url_problem(url: str, *, allow_http: bool) -> str | None:
    """Why the server will not deliver to `url`, or None.

    Internal targets (loopback, private, link-local, unspecified, in any spelling) are refused;
    `allow_http` (the `--allow-http-webhooks` development mode) allows loopback, over http too,
    but never link-local (the cloud metadata range) or private addresses.
    """
    try:
        parts = webhook_url_parts(url, allow_http=allow_http)
    except ValidationError as exc:
        return str(exc)
    kind = _host_kind(parts.hostname or "")
    if kind and _refused(kind, allow_http):
        hint = ("; to deliver to a handler on this machine, start the server with --allow-http-webhooks"
                if kind == "loopback" else "; use a public host")
        article = "an" if kind[0] in "aeiou" else "a"
        return f"webhookUrl points at {article} {kind} address ({parts.hostname}), which webhooks may not reach{hint}."
    if parts.scheme == "http" and kind != "loopback":
        return "webhookUrl must be an https:// URL, or http://127.0.0.1 / http://localhost on this dev server."
    return None


def _shown(url: str) -> str:
    """The URL without query or credentials: handlers often carry a token there."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}{parts.path}"


class InternalTarget(Exception):
    """A webhook host resolved to an address webhooks may not reach: dropped, never retried."""


async def pinned_address(url: httpx.URL, allow_loopback: bool) -> str:
    """The address to POST `url` to: resolved now, every answer checked (raises InternalTarget).

    The request then goes to that very address (with the original Host and TLS name), so a name
    that resolved to a public address at the check cannot be re-resolved to an internal one.
    Resolution failures raise OSError/UnicodeError (retried like any connection failure).
    """
    host = url.raw_host.decode("ascii")
    infos = await asyncio.get_running_loop().getaddrinfo(host, url.port or (443 if url.scheme == "https" else 80),
                                                         type=socket.SOCK_STREAM)
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in addresses:
        kind = "loopback" if host.rstrip(".").lower() == "localhost" else address_kind(address)
        if kind and _refused(kind, allow_loopback):
            raise InternalTarget(f"resolves to a {kind} address ({address}); not delivered")
    if not addresses:
        raise OSError("the name resolves to no address")
    return str(addresses[0])


class WebhookSender:
    def __init__(self, *, retry_delays=DEFAULT_RETRY_DELAYS, answer_timeout: float = ANSWER_TIMEOUT,
                 allow_loopback: bool = False) -> None:
        self.retry_delays = tuple(float(delay) for delay in retry_delays)
        self.allow_loopback = allow_loopback
        self.answer_timeout = answer_timeout
        self._tasks: set[asyncio.Task] = set()
        self._http: httpx.AsyncClient | None = None

    def deliver(self, url: str, secret: str, event: str, body: bytes, job_id: str) -> None:
        """Start delivering in the background (call from the server's event loop)."""
        task = asyncio.get_running_loop().create_task(self._deliver(url, secret, event, body, job_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, secret: str, event: str, body: bytes, job_id: str) -> None:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.answer_timeout, follow_redirects=False)
        first = time.monotonic()
        for attempt, offset in enumerate((0.0, *self.retry_delays), start=1):
            await asyncio.sleep(max(0.0, first + offset - time.monotonic()))
            headers = {"content-type": "application/json", "kodisc-event": event,
                       "kodisc-signature": sign(body, secret)}
            try:  # httpx's timeout bounds each read; the contract bounds the whole answer
                target = httpx.URL(url)
                address = await asyncio.wait_for(pinned_address(target, self.allow_loopback), self.answer_timeout)
                headers["host"] = target.netloc.decode("ascii")
                request = self._http.post(target.copy_with(host=address), content=body, headers=headers,
                                          extensions={"sni_hostname": target.raw_host.decode("ascii")})
                response = await asyncio.wait_for(request, self.answer_timeout)
                if 200 <= response.status_code < 300:
                    return
                problem = f"answered {response.status_code}"
            except asyncio.TimeoutError:
                problem = f"did not answer within {self.answer_timeout:g} s"
            except InternalTarget as exc:
                logger.warning("webhook for job %s to %s %s", job_id, _shown(url), exc)
                return
            except (httpx.HTTPError, httpx.InvalidURL, OSError, UnicodeError) as exc:
                problem = f"failed: {type(exc).__name__}"
            logger.warning("webhook for job %s to %s %s (attempt %d of %d)", job_id, _shown(url), problem,
                           attempt, len(self.retry_delays) + 1)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

"""The Kodisc v2 client: typed models, the error tree, and the sync and async clients.

Everything that talks HTTP to Kodisc (or to the local server) goes through here. The models,
errors and rules live in `kodisc_jupyter.contract` (re-exported here); httpx is imported only
when `Kodisc` or `AsyncKodisc` is first used.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..contract import *  # noqa: F403  the contract, re-exported: one list, in contract/__init__
from ..contract import __all__ as _contract_names
from ._policy import PollPolicy, RetryPolicy

if TYPE_CHECKING:
    from ._client import AsyncKodisc, Kodisc

__all__ = [*_contract_names, "AsyncKodisc", "Kodisc", "PollPolicy", "RetryPolicy"]


def __getattr__(name: str) -> Any:
    if name in ("Kodisc", "AsyncKodisc"):
        from . import _client

        return getattr(_client, name)
    raise AttributeError(f"module 'kodisc_jupyter.client' has no attribute {name!r}")

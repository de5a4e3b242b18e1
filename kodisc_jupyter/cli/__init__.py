"""The `kodisc` command: render, me, jobs and resume (`jobs`), the batch pre-render of a notebook
(`batch`), serve and keys (`serve`), the one-shot head start and the exit codes."""
from .main import build_parser, main

__all__ = ["build_parser", "main"]

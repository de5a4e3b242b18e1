"""The `kodisc` command line: one argparse tree; each area registers its own subcommands.

Exit codes: `kodisc_jupyter.cli.exit_codes`.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from .._redact import redact
from .exit_codes import EXIT_INTERRUPTED
from .head_start import head_start


class _Parser(argparse.ArgumentParser):
    """argparse whose usage and error lines show a key-shaped argument by its prefix only (subcommands too)."""

    def _print_message(self, message: str, file: Any = None) -> None:
        super()._print_message(redact(message), file)


def build_parser() -> argparse.ArgumentParser:
    from .jobs import register as register_jobs  # after head_start(): see there
    from .serve import register as register_server

    parser = _Parser(prog="kodisc", description="Manim renders through Kodisc or a local Kodisc.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register_jobs(commands)
    register_server(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    head_start(argv)
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED

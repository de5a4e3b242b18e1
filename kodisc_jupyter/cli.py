"""The `kodisc` command line: one argparse tree; each area registers its own subcommands.

Exit codes (shared by every subcommand): 0 ok, 1 the render failed, 2 bad input,
3 an API or connection error, 130 interrupted.
"""
from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_RENDER_FAILED, EXIT_BAD_INPUT, EXIT_API_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def build_parser() -> argparse.ArgumentParser:
    from .server.cli import register as register_server
    from .jobs_cli import register as register_jobs

    parser = argparse.ArgumentParser(prog="kodisc", description="Manim renders through Kodisc or a local Kodisc.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register_jobs(commands)
    register_server(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED

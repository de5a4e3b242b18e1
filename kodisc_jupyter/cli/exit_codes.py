"""The `kodisc` command line's exit codes and its one-line failure, shared by every subcommand (a
module of their own, so the subcommands and the parser that registers them import no one but this)."""
import sys

from .._redact import redact

EXIT_OK = 0
EXIT_RENDER_FAILED = 1  # the render (or one render of a batch) failed
EXIT_BAD_INPUT = 2  # bad input: ours, or a 400 from the API
EXIT_API_ERROR = 3  # an API or connection error
EXIT_INTERRUPTED = 130  # Ctrl-C


def fail(message: str, code: int) -> int:
    """Say `message` as one `kodisc: ...` line on stderr (a pasted key shown by its prefix); return `code`."""
    print(f"kodisc: {redact(message)}", file=sys.stderr)
    return code

"""The `kodisc` command line's exit codes, shared by every subcommand (a module of their own, so
the subcommands and the parser that registers them import no one but this)."""

EXIT_OK = 0
EXIT_RENDER_FAILED = 1  # the render (or one render of a batch) failed
EXIT_BAD_INPUT = 2  # bad input: ours, or a 400 from the API
EXIT_API_ERROR = 3  # an API or connection error
EXIT_INTERRUPTED = 130  # Ctrl-C

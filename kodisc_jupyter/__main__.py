"""`python -m kodisc_jupyter ...` is the `kodisc` command line."""
import sys

from .cli.main import main

sys.exit(main())

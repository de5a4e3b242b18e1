"""The public exception tree (documented once, in `kodisc_jupyter.contract._errors`)."""
from .contract._errors import *  # noqa: F403
from .contract._errors import __all__  # noqa: F401
from .contract._errors import __doc__ as __doc__  # noqa: F401  one tree, documented once

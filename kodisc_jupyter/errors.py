"""The public exception tree (documented once, in `kodisc_jupyter.client._errors`)."""
from .client._errors import *  # noqa: F403
from .client._errors import __all__  # noqa: F401
from .client._errors import __doc__ as __doc__  # noqa: F401  one tree, documented once

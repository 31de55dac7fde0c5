"""The same API as :mod:`calimero`, importable under the extension's name,
as the official client allows (``import calimero_client_py``)."""

from calimero import *  # noqa: F403
from calimero import __all__, __version__  # noqa: F401

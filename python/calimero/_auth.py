"""The terminal prompt for credentials.

The core asks for credentials through :func:`prompt_credentials` when a call
needs a token and nothing else can give one (no token passed in or cached,
no credentials passed in or in ``CALIMERO_USERNAME`` / ``CALIMERO_PASSWORD``).
It asks only when stdin is a terminal; otherwise the call raises
:class:`calimero.AuthenticationError` saying how to provide credentials.
"""

from __future__ import annotations

import getpass
import sys

__all__ = ["ENV_ACCESS_TOKEN", "ENV_PASSWORD", "ENV_REFRESH_TOKEN", "ENV_USERNAME"]

#: Environment variables read when a connection is created (the arguments of
#: ``create_connection`` win over them).
ENV_USERNAME = "CALIMERO_USERNAME"
ENV_PASSWORD = "CALIMERO_PASSWORD"
ENV_ACCESS_TOKEN = "CALIMERO_ACCESS_TOKEN"
ENV_REFRESH_TOKEN = "CALIMERO_REFRESH_TOKEN"


def _stdin_is_a_terminal() -> bool:
    stdin = sys.stdin
    try:
        return stdin is not None and stdin.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def prompt_credentials(api_url: str, node_name: str | None) -> tuple[str, str] | None:
    """Asks for a user name and password on the terminal. Returns None when
    stdin is not a terminal, or when the user gives nothing or gives up
    (Ctrl-C, Ctrl-D)."""
    if not _stdin_is_a_terminal():
        return None
    where = f"{api_url} (node_name {node_name!r})" if node_name else api_url
    try:
        print(f"The Calimero node at {where} requires a login.", file=sys.stderr, flush=True)
        username = input("Username: ").strip()
        if not username:
            return None
        password = getpass.getpass("Password: ")
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr, flush=True)
        return None
    if not password:
        return None
    return username, password

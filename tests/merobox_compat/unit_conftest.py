"""conftest.py for merobox's own unit tests, run on our client.

merobox's conftest replaces ``calimero_client_py`` with a MagicMock; this
one does not, so merobox imports our module. Its step tests hand merobox a
MagicMock client and check what merobox does with the answers; here every
call merobox makes on such a mock under one of the client's method names
is also bound to our ``calimero.Client`` signature, as Python would bind it
on the real client, and a call that would not bind fails the test.
"""

from __future__ import annotations

import inspect
import sys
from unittest import mock

import pytest

# What merobox's conftest stubs besides the client (optional NEAR modules).
for _name in (
    "ed25519",
    "py_near",
    "py_near.account",
    "py_near.transactions",
    "py_near.dapps",
    "py_near.dapps.core",
):
    sys.modules.setdefault(_name, mock.MagicMock())

import calimero  # noqa: E402
import calimero_client_py  # noqa: E402,F401  (the real one, not a stub)

#: Client methods by name; generic names that other mocks share are left out.
_METHODS = {
    name: getattr(calimero.Client, name)
    for name in dir(calimero.Client)
    if not name.startswith("_")
    and callable(getattr(calimero.Client, name))
    and name not in {"close", "subscribe", "with_options", "connection"}
}
_CALLS: list[tuple[str, tuple, dict]] = []
_BOUND = {"calls": 0, "methods": set()}
_increment = mock.CallableMixin._increment_mock_call  # type: ignore[attr-defined]


def _record(self: mock.CallableMixin, /, *args: object, **kwargs: object) -> None:
    _increment(self, *args, **kwargs)
    name = getattr(self, "_mock_name", None)
    if name in _METHODS and getattr(self, "_mock_parent", None) is not None:
        _CALLS.append((name, args, kwargs))


mock.CallableMixin._increment_mock_call = _record  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _calls_bind_to_our_client():
    _CALLS.clear()
    yield
    problems = []
    for name, args, kwargs in _CALLS:
        signature = inspect.signature(_METHODS[name])
        params = list(signature.parameters.values())[1:]  # without self
        try:
            signature.replace(parameters=params).bind(*args, **kwargs)
        except TypeError as e:
            problems.append(f"client.{name}(*{args!r}, **{kwargs!r}): {e}")
        else:
            _BOUND["calls"] += 1
            _BOUND["methods"].add(name)
    _CALLS.clear()
    assert not problems, "merobox calls our Client with arguments it does not take:\n" + "\n".join(
        problems
    )


def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.write_line(
        f"merobox-client-calls: {_BOUND['calls']} calls of "
        f"{len(_BOUND['methods'])} client methods bound to calimero.Client"
    )

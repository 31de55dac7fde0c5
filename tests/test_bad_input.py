"""Hostile input to every public callable of the package.

The surface is found by introspection (``calimero.__all__``, the public
attributes of its classes, and ``calimero.ENDPOINTS`` for the ``Client``
methods), so a new function or method is swept automatically, and
``test_every_public_callable_is_covered`` fails until it is described here.
Each argument of each callable gets wrong types, None when it is required,
an empty string, a 10 MB string, a 4 000-digit int, malformed ids, NULs, a
lone surrogate and other unicode: the call must raise ValueError or
TypeError naming the argument in a short message, and the test node must
receive nothing. A value an argument
legitimately accepts is skipped by its kind (``ACCEPTS``), never by a list
of methods. The whole sweep also runs in a subprocess, whose exit code
shows the interpreter survived it.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import json
import re
import subprocess
import sys
import types
import warnings
from pathlib import Path
from typing import Any, Callable

import pytest

import calimero
from test_validation import valid as valid_table_value
from testnode import TestNode

HUGE = "x" * (10 * 1024 * 1024)

#: (label, value): the hostile values, each tried on every argument.
HOSTILE: list[tuple[str, Any]] = [
    ("int", 42),
    ("big_int", 10**4000),
    ("float", 4.5),
    ("bool", True),
    ("bytes", b"\x00\xff"),
    ("object", object()),
    ("set", {1, 2}),
    ("none", None),
    ("empty", ""),
    ("huge", HUGE),
    ("malformed_id", "0OIl"),
    ("bad_hex", "g" * 64),
    ("nul", "a\x00b"),
    ("surrogate", "\ud800"),
    ("unicode", "é😀\u202e"),
]

#: Longest message a refusal may have, whatever the value (the enums'
#: messages are the standard library's and not held to it).
MAX_MESSAGE = 500

STRINGS = {"empty", "huge", "malformed_id", "bad_hex", "nul", "surrogate", "unicode"}
#: Strings that are plausible file paths: a path argument takes them, and a
#: missing file is an OSError (as for ``open``), not a bad argument.
PATHS = {"huge", "malformed_id", "bad_hex", "surrogate", "unicode"}
#: Text without control characters: what a free-text argument accepts.
TEXT = {"malformed_id", "bad_hex", "unicode"}

#: The hostile labels each kind of argument legitimately accepts (those
#: values are not tried). Kinds of the endpoint table first, then the kinds
#: of the arguments outside the table.
ACCEPTS: dict[str, set[str]] = {
    "id": set(),
    "hex_id": set(),
    "package": TEXT,
    "id_list": set(),
    "device_scope": set(),
    "url": set(),
    "alias": {"malformed_id"},  # "0OIl" is a valid alias
    "hex": set(),
    "choice": set(),
    "role": set(),
    "uint": {"int"},
    "uint32": {"int"},
    "bool": {"bool"},
    "members": set(),
    "hex_id_list": set(),
    "str_list": set(),
    "metadata": set(),
    "name": TEXT,
    "node_path": TEXT,
    "ignored_id": {"empty"},
    "ignored_text": STRINGS - {"surrogate"},
    # JSON values: a number or bool is a document of its own.
    "json_text": {"int", "float", "bool"},
    # Bytes, text (sent as its UTF-8) or a JSON value; the 10 MB string is
    # over every bytes argument's max_len.
    "bytes": {"int", "float", "bool", "bytes"} | (STRINGS - {"huge", "surrogate"}),
    "upload": {"bytes"} | PATHS,
    "local_path": PATHS,
    "progress": set(),
    # ---- outside the table ----
    "api_url": set(),
    "node_name": TEXT,
    "credential": STRINGS - {"empty", "surrogate"},
    # visible ASCII, as it goes into the Authorization header
    "token": {"malformed_id", "bad_hex"},
    "flag": {"bool"},
    "seconds": {"int", "float"},
    "retries": set(),
    "response_cap": set(),
    "node_version": set(),
    "ca_cert": PATHS,
    "connection": set(),
    "http_method": set(),
    "raw_path": TEXT,
    # any JSON value, a str being a JSON string
    "json_value": {"int", "float", "bool"} | (STRINGS - {"surrogate"}),
    "scope": set(),
    # JwtToken is a value type: any non-empty str is kept as given, and an
    # empty refresh token means none
    "jwt": STRINGS - {"empty"},
    "jwt_refresh": STRINGS,
    "unix_time": {"int", "big_int"},
    "enum_value": set(),
    "blob_chunks": set(),
    "subscription": set(),
    # a base58 id, or an iterable of them (a str is one id)
    "context_ids": set(),
    "group_ids": set(),
    "transport": set(),
    "count": {"int"},
    # an IntFlag: any int is a combination of flags
    "flag_value": {"int", "big_int", "bool"},
    # ---- delegated access ----
    "secret": set(),
    "device_credential": set(),
    "device_session": set(),
    "author_proof": set(),
    # an HTTP method token, signed as given
    "signed_method": {"malformed_id", "bad_hex"},
    "signed_path": set(),
    # the exact bytes a request carries: any str or bytes
    "signed_body": {"bytes"} | (STRINGS - {"surrogate"}),
    # signed, never compared: any text up to 256 bytes
    "release_version": {"empty", "malformed_id", "bad_hex", "unicode", "nul"},
    # ---- TEE ----
    "tee_policy": set(),
    # 64 hex characters or 32 bytes
    "transport_key": set(),
    # a dict or its JSON text (bytes too); none of the values is DCAP collateral
    "collateral": set(),
    # lists of str
    "measurements": set(),
    "tcb_statuses": set(),
    "releases": set(),
    # any bytes are a quote to verify (and refuse: AttestationError)
    "quote": {"bytes"},
    "report_data": set(),
    "timestamp": {"int"},
}


class Arg:
    """One argument of a callable: its name, kind, whether it is required,
    and a valid value (used while another argument is under test)."""

    def __init__(self, name: str, kind: str, required: bool, good: Any = None) -> None:
        self.name, self.kind, self.required, self.good = name, kind, required, good


def _table_args(endpoint: dict[str, Any]) -> list[Arg]:
    return [
        Arg(a["name"], a["kind"], a["required"], valid_table_value(a)) for a in endpoint["args"]
    ]


def _visibility() -> dict[str, Any]:
    endpoint = next(e for e in calimero.ENDPOINTS if e["name"] == "set_subgroup_visibility")
    return next(a for a in endpoint["args"] if a["name"] == "visibility")


HEX = "699c99ea0a2997fb0826b12f6689df76d58763d2fb794f9a2d147f2e580794d1"
B58 = "EMtpXdHZQLiqyPVVAzJWbnishYR1gPTvKKtWD3e2V6zo"

_CONNECTION_ARGS = [
    Arg("api_url", "api_url", True, "URL"),
    Arg("node_name", "node_name", False, "node-a"),
    Arg("username", "credential", False, "user"),
    Arg("password", "credential", False, "pw"),
    Arg("access_token", "token", False, "a.b.c"),
    Arg("refresh_token", "token", False, "d.e.f"),
    Arg("interactive", "flag", False, False),
    Arg("timeout", "seconds", False, 5.0),
    Arg("connect_timeout", "seconds", False, 5.0),
    Arg("max_retries", "retries", False, 1),
    Arg("max_response_bytes", "response_cap", False, 1 << 20),
    Arg("node_version", "node_version", False, "0.11.0-rc.83"),
    Arg("ca_cert", "ca_cert", False, None),
    Arg("device_credential", "device_credential", False, None),
    Arg("device_secret", "secret", False, None),
    Arg("device_session", "device_session", False, None),
    Arg("tee", "tee_policy", False, None),
    Arg("sealed", "flag", False, None),
    Arg("transport_public_key", "transport_key", False, None),
    Arg("tee_collateral", "collateral", False, None),
]
M48 = ["ab" * 48]
COLLATERAL = json.loads(
    (Path(__file__).parent / "data" / "tee" / "tdx_quote_collateral.json").read_text()
)
_APPLICATION_ARGS = [
    Arg("application_id", "id", False, None),
    Arg("application_hash", "id", False, None),
]
#: A credential `merod account sign-cert --generate` minted, and the secret
#: of the key it certifies (calimero-client-py src/warrant.rs tests).
CREDENTIAL = (
    "02b2a942ff4c98718bed76e255987f6d59b1a72d3b2cd2510003e6170ac63a9ffb000000000e2cd2d3dc84e1db"
    "5088e32510ca45bc491e4033bbb0f6bbb733bc0c7b7f5e304d0774b93e8028899a745dbe03d7727fa31fc2f060"
    "945b5789cb36c23cba380366245580f7aa816a35d1ff324a714355995ef44a72bcd2341e21d9587d16efce9731"
    "35e50bc7280f06bb32a53a566983cf0f0c8428be4b461df54264f07319540000000000000000e0c3743677508f"
    "5cfbe245f043f2d7bc3ba6c88c001464cae581e2e9ec8cb63780f1f5c2a393521a0038b357fffe63092403fa6e"
    "0e2ec12da5e96d50692d400f"
)
SECRET = "4987ccd0fb7ef36bf7f61e8f99fd150d33e6adac47649f23bfd7109c2e36a3ba"
_NONCE_ARGS = [
    Arg("context_id", "id", True, HEX),
    Arg("device_key", "id", False, None),
    Arg("author_proof", "author_proof", False, CREDENTIAL),
]
_IDS_ARGS = [
    Arg("context_ids", "context_ids", False, None),
    Arg("group_ids", "group_ids", False, None),
]
_SUBSCRIBE_ARGS = [
    *_IDS_ARGS,
    Arg("transport", "transport", False, "sse"),
    Arg("max_reconnects", "count", False, 1),
    Arg("buffer", "count", False, 16),
]
_OPTIONS_ARGS = [Arg("timeout", "seconds", False, 5.0), Arg("max_retries", "retries", False, 1)]

#: The callables outside the endpoint table, by their public path, with
#: their arguments (checked against their signatures).
SPECS: dict[str, list[Arg]] = {
    "create_connection": _CONNECTION_ARGS,
    "ConnectionInfo": _CONNECTION_ARGS,
    "ConnectionInfo.with_options": _OPTIONS_ARGS,
    "ConnectionInfo.get": [Arg("path", "raw_path", True, "/admin-api/health")],
    "ConnectionInfo.request": [
        Arg("method", "http_method", True, "GET"),
        Arg("path", "raw_path", True, "/admin-api/health"),
        Arg("json", "json_value", False, None),
    ],
    "ConnectionInfo.login": [
        Arg("username", "credential", False, "user"),
        Arg("password", "credential", False, "pw"),
    ],
    "ConnectionInfo.detect_auth_mode": [],
    "ConnectionInfo.logout": [],
    "ConnectionInfo.detect_node_version": [],
    "ConnectionInfo.close": [],
    "create_client": [Arg("connection", "connection", True, "CONNECTION")],
    "create_async_client": [Arg("connection", "connection", True, "CONNECTION")],
    "Client": [Arg("connection", "connection", True, "CONNECTION")],
    "AsyncClient": [Arg("connection", "connection", True, "CONNECTION")],
    "Client.with_options": _OPTIONS_ARGS,
    "Client.get_api_url": [],
    "Client.close": [],
    "AsyncClient.aclose": [],
    "AsyncBlobChunks": [Arg("chunks", "blob_chunks", True, None)],
    "AsyncBlobChunks.aclose": [],
    "Client.subscribe": _SUBSCRIBE_ARGS,
    "AsyncClient.subscribe": _SUBSCRIBE_ARGS,
    "Subscription": [Arg("inner", "subscription", True, None)],
    "Subscription.subscribe": _IDS_ARGS,
    "Subscription.unsubscribe": _IDS_ARGS,
    "Subscription.asubscribe": _IDS_ARGS,
    "Subscription.aunsubscribe": _IDS_ARGS,
    "Subscription.close": [],
    "Subscription.aclose": [],
    "Client.resolve_context_alias": [Arg("alias", "alias", True, "my-alias")],
    "Client.resolve_application_alias": [Arg("alias", "alias", True, "my-alias")],
    "Client.create_alias_generic": [
        Arg("alias", "alias", True, "my-alias"),
        Arg("value", "id", True, B58),
        Arg("scope", "scope", False, "context"),
    ],
    "Client.set_default_visibility": [
        Arg("group_id", "hex_id", True, HEX),
        Arg("visibility", "choice", True, _visibility()["choices"][0]),
    ],
    # No such routes on the node: the arguments are checked, then
    # UnsupportedByNodeError (test_identity_alias_methods_are_unsupported).
    "Client.create_context_identity_alias": [
        Arg("alias", "alias", True, "my-alias"),
        Arg("context_id", "id", True, B58),
        Arg("public_key", "id", True, B58),
    ],
    "Client.delete_context_identity_alias": [
        Arg("alias", "alias", True, "my-alias"),
        Arg("context_id", "id", True, B58),
    ],
    "Client.list_context_identity_aliases": [Arg("context_id", "id", True, B58)],
    "Client.lookup_context_identity_alias": [
        Arg("alias", "alias", True, "my-alias"),
        Arg("context_id", "id", True, B58),
    ],
    "Client.resolve_context_identity_alias": [
        Arg("alias", "alias", True, "my-alias"),
        Arg("context_id", "id", True, B58),
    ],
    "get_token_cache_dir": [],
    "calimero_client_py.endpoints": [],
    "get_token_cache_path": [Arg("node_name", "node_name", True, "node-a")],
    "JwtToken": [
        Arg("access_token", "jwt", True, "a.b.c"),
        Arg("refresh_token", "jwt_refresh", False, None),
        Arg("expires_at", "unix_time", False, None),
    ],
    "JwtToken.is_expired": [],
    "BlobChunks.close": [],
    "AuthMode": [Arg("value", "enum_value", True, "none")],
    "TeePolicy": [
        Arg("allowed_mrtd", "measurements", True, M48),
        Arg("allowed_rtmr0", "measurements", False, None),
        Arg("allowed_rtmr1", "measurements", False, M48),
        Arg("allowed_rtmr2", "measurements", False, M48),
        Arg("allowed_rtmr3", "measurements", False, M48),
        Arg("allowed_tcb_statuses", "tcb_statuses", False, None),
        *_APPLICATION_ARGS,
    ],
    "TeePolicy.from_releases": [
        Arg("releases", "releases", True, [{"profiles": {"p": {}}}]),
        Arg("profile", "name", True, "p"),
        *_APPLICATION_ARGS,
    ],
    "TeePolicy.verify_quote": [
        Arg("quote", "quote", True, b"quote"),
        Arg("collateral", "collateral", True, COLLATERAL),
        Arg("report_data", "report_data", False, None),
        Arg("now", "timestamp", False, None),
    ],
    "Capability": [Arg("value", "flag_value", True, 1)],
    # ---- delegated access ----
    "sign_request": [
        Arg("method", "signed_method", True, "GET"),
        Arg("path", "signed_path", True, "/admin-api/namespaces"),
        Arg("signer_secret", "secret", True, SECRET),
        Arg("body", "signed_body", False, None),
        Arg("valid_for", "count", False, None),
    ],
    "sign_warrant": [
        Arg("context_id", "id", True, HEX),
        Arg("executor", "hex_id", True, HEX),
        Arg("executor_key", "id", True, HEX),
        Arg("release_bytecode_id", "id", True, HEX),
        Arg("release_version", "release_version", True, "1.0.0"),
        Arg("method", "name", True, "set"),
        Arg("args", "json_text", True, {"k": "v"}),
        Arg("nonce", "uint", True, 1),
        Arg("device_secret", "secret", True, SECRET),
        Arg("credential", "device_credential", True, CREDENTIAL),
        Arg("valid_for", "count", False, None),
    ],
    "sign_login_statement": [
        Arg("node_key", "id", True, HEX),
        Arg("session_key", "hex_id", True, HEX),
        Arg("device_secret", "secret", True, SECRET),
        Arg("audience", "name", False, None),
        Arg("challenge", "hex_id", False, None),
        Arg("valid_for", "count", False, None),
    ],
    "public_key_of": [Arg("secret", "secret", True, SECRET)],
    "DeviceCredential": [Arg("credential", "device_credential", True, CREDENTIAL)],
    "DeviceCredential.verify": [],
    "DeviceCredential.to_dict": [],
    "ConnectionInfo.login_account_proof": [
        Arg("node_key", "id", True, HEX),
        Arg("audience", "name", False, None),
        Arg("valid_for", "count", False, None),
    ],
    "Client.next_warrant_nonce": _NONCE_ARGS,
}

#: Public callables deliberately not swept, and why.
EXEMPT: dict[str, str] = {
    # Made by download_blob(..., chunks=True) only.
    "BlobChunks": "no public constructor (the test asserts it cannot be called)",
}


def public_callables() -> dict[str, Callable[..., Any]]:
    """Every public callable of the package: module-level functions and
    classes of ``calimero.__all__`` (exception classes aside: they take any
    message), and the public methods of those classes."""
    out: dict[str, Callable[..., Any]] = {}
    for name in calimero.__all__:
        obj = getattr(calimero, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            continue
        if isinstance(obj, type):
            out[name] = obj
            if issubclass(obj, enum.Enum):
                continue  # members and str/int methods, not the package's own
            for attr in dir(obj):
                if attr.startswith("_"):
                    continue
                static = inspect.getattr_static(obj, attr)
                if isinstance(
                    static, (property, types.GetSetDescriptorType, types.MemberDescriptorType)
                ):
                    continue
                if callable(static):
                    out[f"{name}.{attr}"] = getattr(obj, attr)
        elif callable(obj):
            out[name] = obj
    # The extension module is importable too; what it has that the package
    # does not re-export is public as well.
    exported = {id(v) for v in out.values()}
    native = calimero.calimero_client_py
    for name in dir(native):
        obj = getattr(native, name)
        if not name.startswith("_") and callable(obj) and id(obj) not in exported:
            out[f"calimero_client_py.{name}"] = obj
    return out


ENDPOINT_FORMS: dict[str, list[dict[str, Any]]] = {}
for _e in calimero.ENDPOINTS:
    ENDPOINT_FORMS.setdefault(_e["name"], []).append(_e)
ENDPOINT_NAMES = {name: forms[0] for name, forms in ENDPOINT_FORMS.items()}
#: The older forms of a method with several (``Client.x[1]``), swept too.
FORM_PATHS = [
    f"Client.{name}[{i}]" for name, forms in ENDPOINT_FORMS.items() for i in range(1, len(forms))
]


def _as_sync_method(path: str) -> str:
    """``AsyncClient.x`` is described by ``Client.x`` (same parameters,
    test_async checks it) unless SPECS has an entry of its own."""
    if path.startswith("AsyncClient.") and path not in SPECS:
        return "Client." + path[len("AsyncClient.") :]
    return path


def spec(path: str) -> list[Arg]:
    path = _as_sync_method(path)
    if path.endswith("]"):
        name, _, index = path[len("Client.") : -1].partition("[")
        return _table_args(ENDPOINT_FORMS[name][int(index)])
    if path.startswith("Client.") and path[len("Client.") :] in ENDPOINT_NAMES:
        return _table_args(ENDPOINT_NAMES[path[len("Client.") :]])
    return SPECS[path]


def _described(path: str) -> bool:
    path = _as_sync_method(path)
    return path in SPECS or (path.startswith("Client.") and path[7:] in ENDPOINT_NAMES)


def covered() -> list[str]:
    found = [p for p in public_callables() if p not in EXEMPT and _described(p)]
    return sorted(found + FORM_PATHS)


def test_every_public_callable_is_covered() -> None:
    surface = public_callables()
    missing = sorted(set(surface) - set(covered()) - set(EXEMPT))
    assert not missing, f"public callables with no bad-input coverage: {missing}"
    assert not set(SPECS) - set(surface), "SPECS describes callables that no longer exist"
    # Every Client method of the table is swept, and then some.
    assert len([p for p in covered() if p.startswith("Client.")]) > len(calimero.ENDPOINTS)
    with pytest.raises(TypeError):
        calimero.BlobChunks()


@pytest.mark.parametrize("path", sorted(SPECS))
def test_specs_match_signatures(path: str) -> None:
    """A new parameter must be described (the sweep would miss it)."""
    target = public_callables()[path]
    if isinstance(target, type) and issubclass(target, enum.Enum):
        return
    params = [
        p.name
        for p in inspect.signature(target).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    assert sorted(params) == sorted(a.name for a in SPECS[path])


# ---------------------------------------------------------------- the sweep


class World:
    """What a call needs: the node URL, a connection and a client to it."""

    def __init__(self, url: str, subscription: bool = False) -> None:
        self.url = url
        self.connection = calimero.create_connection(url, max_retries=0, interactive=False)
        self.client = calimero.create_client(self.connection)
        self.aclient = calimero.create_async_client(self.connection)
        self.token = calimero.JwtToken("a.b.c")
        self.policy = calimero.TeePolicy(
            M48, allowed_rtmr1=M48, allowed_rtmr2=M48, allowed_rtmr3=M48
        )
        # A live (empty) subscription, for its methods; opening it is I/O,
        # so the test clears the request log after making the World.
        self.subscription = self.client.subscribe() if subscription else None

    def target(self, path: str) -> Callable[..., Any]:
        """The callable at `path`, bound to an instance for methods."""
        head, _, method = path.partition(".")
        method = method.partition("[")[0]  # an older form: the same method
        if not method:
            return getattr(calimero, head)
        owner = {
            "Client": self.client,
            "AsyncClient": self.aclient,
            "ConnectionInfo": self.connection,
            "JwtToken": self.token,
            "Subscription": self.subscription,
            "TeePolicy": self.policy,
        }.get(head)
        if owner is None:  # no instance to be had without I/O: call it unbound
            found = getattr(getattr(calimero, head), method)
        else:
            found = getattr(owner, method)
        if inspect.iscoroutinefunction(found):
            # The arguments are bound when it is called (a wrong count is a
            # TypeError at once) and checked when it is awaited.
            return lambda *args, **kwargs: asyncio.run(found(*args, **kwargs))
        return found

    def good(self, arg: Arg) -> Any:
        if arg.good == "URL":
            return self.url
        if arg.good == "CONNECTION":
            return self.connection
        return arg.good


def tried(arg: Arg) -> list[tuple[str, Any]]:
    """The hostile values to try on `arg`."""
    accepted = ACCEPTS[arg.kind]
    return [
        (label, value)
        for label, value in HOSTILE
        if label not in accepted and not (label == "none" and not arg.required)
    ]


def names_argument(message: str, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z_]){re.escape(name)}(?![A-Za-z_])", message) is not None


def check(world: World, path: str) -> list[str]:
    """Calls `path` with each hostile value in each argument; returns what
    went wrong (empty: every call raised ValueError/TypeError naming its
    argument)."""
    failures: list[str] = []
    args = spec(path)
    target = world.target(path)
    if not args:
        # Nothing to pass: an extra argument is a TypeError, before any I/O.
        try:
            unbound_self = {"BlobChunks.close": [world.token], "AsyncBlobChunks.aclose": [object()]}
            target(*unbound_self.get(path, []), "extra")
        except TypeError:
            pass
        except BaseException as e:
            failures.append(f"{path}(extra): {type(e).__name__}: {str(e)[:200]}")
        else:
            failures.append(f"{path}(extra): accepted")
        return failures
    for arg in args:
        for label, bad in tried(arg):
            kwargs = {a.name: world.good(a) for a in args if a.required or a.good is not None}
            kwargs[arg.name] = bad
            if arg.kind in ("enum_value", "flag_value"):
                call_args: tuple[Any, ...] = (bad,)
                kwargs = {}
            else:
                call_args = ()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    target(*call_args, **kwargs)
            except (ValueError, TypeError) as e:
                # An enum's ValueError names the enum ("'x' is not a valid AuthMode").
                expected = path if arg.kind in ("enum_value", "flag_value") else arg.name
                if not names_argument(str(e), expected):
                    failures.append(
                        f"{path}({arg.name}={label}): {type(e).__name__} does not name "
                        f"{expected!r}: {str(e)[:200]}"
                    )
                elif len(str(e)) > MAX_MESSAGE and expected == arg.name:
                    failures.append(
                        f"{path}({arg.name}={label}): a {len(str(e))}-character message"
                    )
            except BaseException as e:
                failures.append(f"{path}({arg.name}={label}): {type(e).__name__}: {str(e)[:200]}")
            else:
                failures.append(f"{path}({arg.name}={label}): accepted")
    return failures


@pytest.mark.parametrize("path", covered())
def test_hostile_arguments_are_refused_before_io(node: TestNode, path: str) -> None:
    world = World(node.url, subscription=path.startswith("Subscription."))
    node.clear_requests()
    try:
        failures = check(world, path)
    finally:
        if world.subscription is not None:
            world.subscription.close()
    assert not failures, "\n".join(failures)
    assert node.requests() == []


SWEEP = """
import sys
sys.path.insert(0, {tests!r})
import test_bad_input as t
world = t.World({url!r}, subscription=True)
failures = [f for path in t.covered() for f in t.check(world, path)]
world.subscription.close()
print("\\n".join(failures[:50]))
print(f"{{len(t.covered())}} callables swept, {{len(failures)}} failures")
sys.exit(1 if failures else 0)
"""


def test_the_whole_sweep_in_a_subprocess(node: TestNode) -> None:
    """The interpreter survives every hostile call (no abort, no crash): a
    Rust panic would show as a signal in the exit code."""
    script = SWEEP.format(tests=str(Path(__file__).parent), url=node.url)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, (done.returncode, done.stdout[-3000:], done.stderr[-3000:])
    assert "callables swept, 0 failures" in done.stdout
    # Nothing but the (empty) subscription the sweep opened for its methods.
    assert {r["path"] for r in node.requests()} <= {"/sse"}


def test_surrogates_nested_in_json_name_the_argument(
    client: calimero.Client, node: TestNode
) -> None:
    for bad in ({"\ud800": 1}, {"k": ["\udfff"]}, ["ok", {"x": "\ud800"}]):
        with pytest.raises(ValueError, match=r"^args: expected text encodable as UTF-8"):
            client.call(B58, "set", bad)
    with pytest.raises(ValueError, match=r"^json: "):
        client.connection.request("POST", "/admin-api/health", {"a": "\ud800"})
    assert node.requests() == []


def test_identity_alias_methods_are_unsupported(client: calimero.Client, node: TestNode) -> None:
    """With good arguments they raise UnsupportedByNodeError (the sweep
    checks bad ones raise ValueError/TypeError instead), sending nothing."""
    for path, args in SPECS.items():
        if "identity_alias" in path:
            method = getattr(client, path.split(".")[1])
            with pytest.raises(calimero.UnsupportedByNodeError):
                method(**{a.name: a.good for a in args})
    assert node.requests() == []

"""The package surface of the seeds: names, types, values, caches."""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import pickle
import re

import pytest

import calimero


def test_version_is_the_distribution_version() -> None:
    assert calimero.__version__ == importlib.metadata.version("calimero-client-py")
    assert calimero.VERSION == calimero.__version__


def test_importable_as_calimero_client_py() -> None:
    import calimero_client_py

    for name in calimero.__all__:
        assert getattr(calimero_client_py, name) is getattr(calimero, name)
    assert calimero_client_py.__version__ == calimero.__version__


def test_seed_exports_exist() -> None:
    for name in [
        "ConnectionInfo",
        "Client",
        "JwtToken",
        "ClientError",
        "AuthMode",
        "create_connection",
        "create_client",
        "get_token_cache_path",
        "get_token_cache_dir",
    ]:
        assert name in calimero.__all__
        assert hasattr(calimero, name)


def test_auth_mode_values() -> None:
    none, required = calimero.AuthMode("none"), calimero.AuthMode("required")
    assert none.value == "none" and str(none) == "none"
    assert required.value == "required" and str(required) == "required"
    assert repr(required) == "AuthMode('required')"
    assert required == calimero.AuthMode("required") == "required"
    assert none != required
    assert f"{none}" == "none"
    with pytest.raises(ValueError):
        calimero.AuthMode("maybe")


def test_jwt_token_hides_its_secrets() -> None:
    token = calimero.JwtToken("secret-access", "secret-refresh", expires_at=1)
    assert token.access_token == "secret-access"
    assert token.refresh_token == "secret-refresh"
    assert token.expires_at == 1
    assert token.is_expired()
    for text in (repr(token), str(token)):
        assert "secret" not in text
    assert not calimero.JwtToken("a", expires_at=2**40).is_expired()
    assert not calimero.JwtToken("not-a-jwt").is_expired()  # expiry unknown
    with pytest.raises(ValueError, match="access_token"):
        calimero.JwtToken("")
    with pytest.raises(TypeError, match="expires_at"):
        calimero.JwtToken("a", expires_at="soon")  # type: ignore[arg-type]


def test_jwt_token_equality() -> None:
    assert calimero.JwtToken("é-token", "r") == calimero.JwtToken("é-token", "r")
    assert calimero.JwtToken("a") != calimero.JwtToken("b")
    assert calimero.JwtToken("a", "r1") != calimero.JwtToken("a", "r2")
    assert len({calimero.JwtToken("a"), calimero.JwtToken("a")}) == 1


def test_jwt_token_reads_exp_from_the_jwt() -> None:
    # header {"alg":"HS256"}, claims {"exp": 1795305022}
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3OTUzMDUwMjJ9.c2ln"
    assert calimero.JwtToken(jwt).expires_at == 1795305022


def test_token_cache_paths_match_merobox(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    directory = calimero.get_token_cache_dir()
    assert directory == str(tmp_path / ".merobox" / "auth_cache")
    name = "https://my-node.example.com:8080"
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    expected = f"{directory}/https___my-node.example.com_8080-{digest}.json"
    assert calimero.get_token_cache_path(name) == expected
    assert calimero.get_token_cache_path(name) == calimero.get_token_cache_path(name)
    long_name = "n" * 200
    assert calimero.get_token_cache_path(long_name).endswith(
        "n" * 64 + "-" + hashlib.sha256(long_name.encode()).hexdigest()[:12] + ".json"
    )


def test_connection_info_properties() -> None:
    conn = calimero.create_connection("http://127.0.0.1:2528/", node_name="node1")
    assert conn.api_url == "http://127.0.0.1:2528"
    assert conn.node_name == "node1"
    assert conn.timeout == 60 and conn.connect_timeout == 10
    assert repr(conn) == 'ConnectionInfo(api_url="http://127.0.0.1:2528", node_name="node1")'
    conn = calimero.create_connection("https://node.example.com/prefix", timeout=2.5)
    assert conn.api_url == "https://node.example.com/prefix"
    assert conn.node_name is None and conn.timeout == 2.5


@pytest.mark.parametrize(
    "url", ["", "not a url", "node:2528", "ftp://node", "http://", "http://a b", "file:///x"]
)
def test_bad_urls_raise_value_error_naming_api_url(url: str) -> None:
    with pytest.raises(ValueError, match="^api_url: "):
        calimero.create_connection(url)


def test_bad_connection_arguments() -> None:
    with pytest.raises(TypeError, match="api_url"):
        calimero.create_connection(2528)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="node_name"):
        calimero.create_connection("http://n", node_name=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^timeout: "):
        calimero.create_connection("http://n", timeout=0)
    with pytest.raises(ValueError, match="^connect_timeout: "):
        calimero.create_connection("http://n", connect_timeout=float("nan"))
    with pytest.raises(TypeError, match="connection"):
        calimero.create_client("http://n")  # type: ignore[arg-type]


def test_client_shares_the_connection() -> None:
    conn = calimero.create_connection("http://127.0.0.1:2528")
    a, b = calimero.create_client(conn), calimero.Client(conn)
    assert a.connection is conn and b.connection is conn
    assert a.get_api_url() == "http://127.0.0.1:2528"


def test_exceptions_form_one_tree_and_pickle() -> None:
    e = calimero.errors
    for cls in [
        e.NetworkError,
        e.RequestTimeoutError,
        e.HttpError,
        e.BadRequestError,
        e.AuthenticationError,
        e.AuthRevokedError,
        e.PermissionDeniedError,
        e.NotFoundError,
        e.ConflictError,
        e.RateLimitError,
        e.ServerError,
        e.RpcError,
        e.MalformedResponseError,
    ]:
        assert issubclass(cls, calimero.ClientError)
        assert issubclass(cls, Exception)
    assert issubclass(e.NetworkError, ConnectionError)
    assert issubclass(e.RequestTimeoutError, TimeoutError)
    assert issubclass(e.AuthRevokedError, e.AuthenticationError)
    err = e.NotFoundError("gone", status=404, method="GET", url="http://n/x", headers={"a": "b"})
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is e.NotFoundError
    assert (back.message, back.status, back.url, back.headers) == (
        "gone",
        404,
        "http://n/x",
        {"a": "b"},
    )
    rpc = pickle.loads(pickle.dumps(e.RpcError("x", error_type="ContextNotFound")))
    assert rpc.type == "ContextNotFound"


def form_signatures(name: str) -> list[str]:
    """The Python signature of each table entry of method `name`, newest
    first, as ``inspect`` would print it without ``self``."""
    out = []
    for endpoint in calimero.ENDPOINTS:
        if endpoint["name"] != name:
            continue
        params = []
        star = False
        for a in endpoint["args"]:
            if a["keyword_only"] and not star:
                params.append("*")
                star = True
            default = calimero._client._py_default(a)
            params.append(a["name"] if a["required"] else f"{a['name']}={default!r}")
        out.append("(" + ", ".join(params) + ")")
    return out


def test_every_endpoint_is_a_client_method_with_its_signature() -> None:
    assert len(calimero.ENDPOINTS) >= 40
    for endpoint in calimero.ENDPOINTS:
        method = getattr(calimero.Client, endpoint["name"])
        assert endpoint["path"] in method.__doc__
        if len(form_signatures(endpoint["name"])) > 1:
            continue  # several forms: test_methods_with_several_forms
        params = list(inspect.signature(method).parameters.values())[1:]
        assert [p.name for p in params] == [a["name"] for a in endpoint["args"]]
        for p, a in zip(params, endpoint["args"]):
            assert (p.default is inspect.Parameter.empty) == a["required"], (endpoint["name"], p)
            kw_only = p.kind is inspect.Parameter.KEYWORD_ONLY
            assert kw_only == a["keyword_only"], (endpoint["name"], p)


def test_methods_with_several_forms() -> None:
    """Each form is in the docstring, with its releases; the table's forms of
    one name serve releases that do not overlap, newest first."""
    names = {e["name"] for e in calimero.ENDPOINTS}
    several = sorted(n for n in names if len(form_signatures(n)) > 1)
    assert several == ["install_application", "pair_device_complete", "pair_device_init"]
    for name in several:
        doc = getattr(calimero.Client, name).__doc__
        for sig in form_signatures(name):
            assert f"``{name}{sig}``" in doc, (name, sig)
        entries = [e for e in calimero.ENDPOINTS if e["name"] == name]
        assert entries[0]["since"] is not None and entries[0]["until"] is None
        assert entries[-1]["since"] is None and entries[-1]["until"] is not None


#: What code written for the official client calls: 0.6.31 (for
#: merod rc.25) and 0.9.0 (for rc.8x, shared/reference/official-0.9.0.md).
OFFICIAL_0_6_31 = {
    "get_application": "(app_id)",
    "list_applications": "()",
    "list_application_versions": "(application_id)",
    "get_context": "(context_id)",
    "install_application": "(url, hash=None, metadata=None, *, package=None, version=None)",
    "install_dev_application": "(path, metadata=None, *, package=None, version=None)",
    "uninstall_application": "(app_id)",
    "generate_context_identity": "()",
    "get_peers_count": "()",
    "create_context": "(application_id, group_id, params=None, service_name=None, *, "
    "context_seed=None, identity_secret=None, name=None)",
    "delete_context": "(context_id)",
    "get_context_storage": "(context_id)",
    "get_context_identities": "(context_id)",
    "sync_context": "(context_id)",
    "execute_function": "(context_id, method, args=None, executor_public_key=None)",
    "update_context_application": "(context_id, application_id, executor_public_key)",
    "sync_all_contexts": "()",
    "resync_context": "(context_id, force=False)",
    "get_node_identity": "()",
    "join_context": "(context_id)",
    "leave_context": "(context_id)",
    "create_namespace": "(application_id, name=None, app_key=None)",
    "get_namespace": "(namespace_id)",
    "delete_namespace": "(namespace_id)",
    "pair_device_init": "(namespace_id, account_root_public_key, account_nonce=None)",
    "pair_device_complete": "(namespace_id, device_id, kem_public_key, sign_public_key, "
    "statement, confirmation_code)",
    "revoke_device": "(namespace_id, device_id, proof=None)",
}
OFFICIAL_0_9_0 = {
    "install_application": "(package, version)",
    "pair_device_init": "(account_root_public_key, namespaces, account_namespace=None)",
    "pair_device_complete": "(device_id, kem_public_key, sign_public_key, statement, "
    "confirmation_code, applications=None)",
    "relink_device": "(device_id, applications=None)",
    "list_account_devices": "()",
    "list_account_applications": "()",
    "revoke_device": "(namespace_id, device_id, proof=None)",
    "admit_join": "(namespace_id, invitation_json, signed_op)",
    # 0.9.0's admitters=None is the 4th positional; admitter_addrs is ours.
    "create_namespace_invitation": "(namespace_id, recursive=None, expiration_timestamp=None, "
    "admitters=None, *, admitter_addrs=None)",
    # 0.9.0's visibility=None is positional too; None sends the default.
    "create_group_in_namespace": "(namespace_id, group_name=None, visibility='restricted')",
}


@pytest.mark.parametrize("expected", [OFFICIAL_0_6_31, OFFICIAL_0_9_0], ids=["0.6.31", "0.9.0"])
def test_official_client_signatures_are_kept(expected: dict[str, str]) -> None:
    """Code written for the official client calls these unchanged: each is
    the signature of the method, or of one of its forms."""
    for name, sig in expected.items():
        assert sig in form_signatures(name), (name, form_signatures(name))
        if len(form_signatures(name)) == 1:
            got = re.sub(
                r"^\(self(, )?", "(", str(inspect.signature(getattr(calimero.Client, name)))
            )
            assert got == sig, name


def test_installed_as_one_abi3_wheel_for_cpython_39_and_later() -> None:
    wheel = importlib.metadata.distribution("calimero-client-py").read_text("WHEEL") or ""
    tags = re.findall(r"^Tag: (\S+)$", wheel, re.M)
    assert len(tags) == 1 and tags[0].startswith("cp39-abi3-"), tags


def test_import_stays_light() -> None:
    """``import calimero`` does not pull in asyncio or typing (the import-time
    benchmark in benches/run.py measures the rest)."""
    import subprocess
    import sys

    code = "import sys, calimero; print(sorted({'asyncio', 'typing'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_every_exception_class_is_exported_by_name() -> None:
    """``calimero.__all__`` spells the exception names out (stubtest cannot
    read ``*errors.__all__``); it must keep up with ``calimero.errors``."""
    import calimero
    import calimero.errors

    assert set(calimero.errors.__all__) <= set(calimero.__all__)
    for name in calimero.errors.__all__:
        assert getattr(calimero, name) is getattr(calimero.errors, name)


def test_generated_methods_carry_their_own_index_names_and_defaults() -> None:
    """Methods are made from one compiled template per shape, with each
    endpoint's index, names and defaults put in: every single-form method,
    called on a stand-in, hands its own table index and its arguments (in
    the table's order, defaults filled in) to the connection, and its
    signature is the table's."""
    import asyncio

    from calimero._client import _is_transfer, _py_default

    class Recorder:
        def _invoke(self, index: int, args: tuple) -> tuple:
            return ("sync", index, args)

        async def _invoke_async(self, index: int, args: tuple) -> tuple:
            return ("async", index, args)

        async def _transfer(self, index: int, args: tuple) -> tuple:
            return ("transfer", index, args)

    names = [e["name"] for e in calimero.ENDPOINTS]
    checked = 0
    for index, endpoint in enumerate(calimero.ENDPOINTS):
        if names.count(endpoint["name"]) != 1:
            continue  # several forms: tests/test_node_releases.py
        args = endpoint["args"]
        given = {a["name"]: f"v{i}" for i, a in enumerate(args) if a["required"]}
        expected = tuple(given.get(a["name"], _py_default(a)) for a in args)
        sync = getattr(calimero.Client, endpoint["name"])
        assert sync(Recorder(), **given) == ("sync", index, expected), endpoint["name"]
        awaited = getattr(calimero.AsyncClient, endpoint["name"])
        assert inspect.iscoroutinefunction(awaited)
        kind = "transfer" if _is_transfer(endpoint) else "async"
        got = asyncio.run(awaited(Recorder(), **given))
        assert got == (kind, index, expected), endpoint["name"]
        for method, owner in ((sync, "Client"), (awaited, "AsyncClient")):
            params = list(inspect.signature(method).parameters.values())[1:]
            assert [p.name for p in params] == [a["name"] for a in args]
            for p, a in zip(params, args):
                want = inspect.Parameter.empty if a["required"] else _py_default(a)
                assert p.default == want, (endpoint["name"], a["name"])
                keyword_only = p.kind is inspect.Parameter.KEYWORD_ONLY
                assert keyword_only == a["keyword_only"], (endpoint["name"], a["name"])
            assert method.__qualname__ == f"{owner}.{endpoint['name']}"
        checked += 1
    assert checked > 100

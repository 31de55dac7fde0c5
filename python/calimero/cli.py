"""The ``calimero-client-py`` command: every ``Client`` method, grouped by
area, made from the same endpoint table as the client.

    calimero-client-py node health
    calimero-client-py contexts list --limit 10
    calimero-client-py call CONTEXT_ID get --args '{"key": "k"}'
    calimero-client-py blobs upload ./model.bin
    calimero-client-py auth login --username admin
    calimero-client-py intents act CONTEXT_ID set --args '{"key": "k", "value": "v"}'

Output is a human table by default, JSON with ``--json``. Exit codes: 0
success, 1 the node or the network failed, 2 bad usage or bad arguments.
Errors are one line on stderr (a traceback with ``--debug``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable, NoReturn

from . import ENDPOINTS, ClientError, __version__, create_client, create_connection
from .calimero_client_py import BlobChunks, sign_request, sign_warrant

PROG = "calimero-client-py"
DEFAULT_NODE_URL = "http://127.0.0.1:2528"

#: Command groups, by the table's ``area``.
AREAS = {
    "node": ("node", "the node itself: health, identity, peers, network, usage"),
    "applications": ("apps", "installed applications"),
    "packages": ("packages", "application packages and versions"),
    "contexts": ("contexts", "contexts: create, list, sync, join"),
    "blobs": ("blobs", "blobs: upload, download (with progress bars), list, delete"),
    "aliases": ("aliases", "context, application and device aliases"),
    "namespaces": ("namespaces", "namespaces: create, invite, join, leave, groups"),
    "groups": ("groups", "groups: members, capabilities, metadata, settings, upgrades"),
    "accounts": ("accounts", "the account: device pairing, listing, scope, labels, revocation"),
    "tee": ("tee", "TEE: info, attestation, release, fleet join"),
    "rpc": ("rpc", "JSON-RPC: execute, sync status, ephemeral state"),
    "intents": ("intents", "delegated access: intents, warrant nonces, signing"),
}

#: Words dropped from a method name to make its command name in its area.
_AREA_WORDS = {
    "node": {"node"},
    "applications": {"application", "applications"},
    "packages": {"package", "packages"},
    "contexts": {"context", "contexts"},
    "blobs": {"blob", "blobs"},
    "aliases": {"alias", "aliases"},
    "namespaces": {"namespace", "namespaces"},
    "groups": {"group", "groups"},
    "accounts": {"device"},
    "tee": {"tee"},
    "rpc": set(),
    "intents": {"intent"},
}

#: Where the rule above reads badly.
_COMMAND_NAMES = {
    "get_node_identity": "identity",
    "get_peers_count": "peers",
    "get_network_status": "network",
    "get_usage": "usage",
    "get_certificate": "certificate",
    "get_metrics": "metrics",
    "get_group_info": "get",
    "create_group_in_namespace": "create-group",
    "detach_context_from_group": "detach-context",
    "join_subgroup_inheritance": "join-via-inheritance",
    "execute_function": "execute",
}

#: Command names of the older forms of a method (its route or signature of
#: older node releases), by (method, form index); the newest form keeps the
#: method's command name.
_FORM_COMMANDS = {
    ("install_application", 1): "install-url",
    ("pair_device_init", 1): "pair-init-in-namespace",
    ("pair_device_complete", 1): "pair-complete-in-namespace",
}

_KIND_HELP = {
    "id": "id (base58 or 64-hex)",
    "hex_id": "64-hex id",
    "package": "package name, e.g. com.example.kv",
    "id_list": "JSON list of ids",
    "device_scope": "'all' or a JSON list of application ids",
    "url": "http(s) URL",
    "node_path": "path on the node",
    "uint": "integer",
    "json_text": "JSON text",
    "bytes": "text (sent as bytes)",
    "alias": "alias (A-Z a-z 0-9 . _ -, at most 50)",
    "hex": "hex text",
    "uint32": "integer",
    "role": "Admin, Member or ReadOnly",
    "members": 'JSON list, e.g. \'[{"identity": "<hex>", "role": "Member"}]\'',
    "hex_id_list": "JSON list of 64-hex ids",
    "str_list": "a value (repeat the option for more)",
    "metadata": 'JSON object, e.g. \'{"name": "n", "data": {"k": "v"}}\'',
    "upload": "path of the file to upload",
    "local_path": "local file path",
}

# Arguments the command line cannot give (a Python callable): the CLI
# supplies its own progress bar.
_SKIPPED_KINDS = {"progress"}

# Example values for --help, by argument name, then by kind.
_EXAMPLES = {
    "context_id": "CONTEXT_ID",
    "application_id": "APP_ID",
    "app_id": "APP_ID",
    "namespace_id": "NAMESPACE_ID",
    "group_id": "GROUP_ID",
    "member_id": "ACCOUNT_ID",
    "blob_id": "BLOB_ID",
    "data": "./file.bin",
    "path": "./out.bin",
    "method": "get",
    "alias": "my-alias",
    "url": "https://example.com/app.wasm",
}


def command_name(endpoint: dict[str, Any]) -> str:
    """The endpoint's command name within its area (``contexts list``)."""
    name = endpoint["name"]
    if name in _COMMAND_NAMES:
        return _COMMAND_NAMES[name]
    words = [w for w in name.split("_") if w not in _AREA_WORDS.get(endpoint["area"], set())]
    return "-".join(words) or name.replace("_", "-")


def form_command(endpoint: dict[str, Any]) -> str:
    """The command of one table entry: the method's command for its newest
    form, a name of its own for an older form (``apps install-url``)."""
    same = [e for e in ENDPOINTS if e["name"] == endpoint["name"]]
    form = next(i for i, e in enumerate(same) if e is endpoint)
    name = command_name(endpoint)
    if form:
        name = _FORM_COMMANDS.get((endpoint["name"], form), f"{name}-form{form}")
    return name


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _convert(name: str, kind: str, text: Any) -> Any:
    if kind in ("uint", "uint32"):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{name}: expected an integer, got {text!r}") from None
    if kind == "id_list" or (kind == "device_scope" and text != "all"):
        try:
            return json.loads(text)
        except ValueError:
            raise ValueError(f"{name}: expected JSON text, got {text!r}") from None
    return text


def _add_endpoint(sub: Any, endpoint: dict[str, Any], area: str, name: str) -> None:
    summary = endpoint["doc"].split(". ")[0].rstrip(".").replace("%", "%%")
    positional = [a for a in endpoint["args"] if a["required"] and a["kind"] not in _SKIPPED_KINDS]
    example = " ".join(
        [PROG, area, name] + [_EXAMPLES.get(a["name"], a["name"].upper()) for a in positional]
    )
    cmd = sub.add_parser(
        name,
        help=summary,
        description=(
            f"{endpoint['doc']}\n\nNode route: {endpoint['verb']} {endpoint['path']}"
            f" ({endpoint['releases_text']})"
        ),
        epilog=f"Example: {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.set_defaults(endpoint=endpoint, action=None)
    for arg in endpoint["args"]:
        kind = arg["kind"]
        if kind in _SKIPPED_KINDS:
            continue
        helptext = _KIND_HELP.get(kind, "text")
        if kind == "choice":
            helptext = " or ".join(arg["choices"])
        if kind == "str_list":
            cmd.add_argument(
                _option(arg["name"]),
                dest=arg["name"],
                action="append",
                required=arg["required"],
                help=helptext,
            )
        elif kind == "bool":
            cmd.add_argument(
                _option(arg["name"]),
                dest=arg["name"],
                action=argparse.BooleanOptionalAction,
                default=None,
                required=arg["required"],
            )
        elif arg["required"]:
            cmd.add_argument(arg["name"], metavar=arg["name"].upper(), help=helptext)
        else:
            cmd.add_argument(_option(arg["name"]), dest=arg["name"], help=helptext)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Talk to a Calimero node (merod) from the command line.",
        epilog=f"Example: {PROG} --node-url http://127.0.0.1:2528 contexts list --limit 10",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--node-url",
        default=os.environ.get("CALIMERO_NODE_URL", DEFAULT_NODE_URL),
        help="the node's URL (env CALIMERO_NODE_URL; default %(default)s)",
    )
    parser.add_argument(
        "--node-name",
        default=os.environ.get("CALIMERO_NODE_NAME"),
        help="name tokens are cached under (env CALIMERO_NODE_NAME)",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="request timeout in seconds (default 60)"
    )
    parser.add_argument(
        "--max-retries",
        type=int,
        default=None,
        help="retries of a failed request that is safe to repeat (default 2)",
    )
    parser.add_argument(
        "--node-version",
        default=os.environ.get("CALIMERO_NODE_VERSION"),
        help="the node's release, e.g. 0.11.0-rc.83 (env CALIMERO_NODE_VERSION; default: detected)",
    )
    parser.add_argument(
        "--device-credential",
        default=os.environ.get("CALIMERO_DEVICE_CREDENTIAL"),
        help="sign every request with this device credential (hex; env "
        "CALIMERO_DEVICE_CREDENTIAL); its secret is read from CALIMERO_DEVICE_SECRET",
    )
    parser.add_argument(
        "--device-session",
        default=os.environ.get("CALIMERO_DEVICE_SESSION"),
        help="a login statement making CALIMERO_DEVICE_SECRET a session key "
        "(env CALIMERO_DEVICE_SESSION)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    top = parser.add_subparsers(dest="area", metavar="COMMAND", required=True)

    groups: dict[str, Any] = {}
    for area, (cli_name, help_text) in AREAS.items():
        group = top.add_parser(
            cli_name,
            help=help_text,
            description=help_text,
            epilog=f"Example: {PROG} {cli_name} --help",
        )
        groups[area] = group.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for endpoint in ENDPOINTS:
        area = endpoint["area"]
        _add_endpoint(groups[area], endpoint, AREAS[area][0], form_command(endpoint))

    # Shortcuts and commands that are not one endpoint.
    call = next(e for e in ENDPOINTS if e["name"] == "call")
    _add_toplevel_call(top, call)
    detect = top.add_parser(
        "detect-auth-mode",
        help="whether the node requires authentication",
        description="Prints 'none' or 'required'.",
        epilog=f"Example: {PROG} detect-auth-mode",
    )
    detect.set_defaults(endpoint=None, action="detect-auth-mode")
    _add_auth(top)
    _add_events(top)
    _add_delegated(groups["intents"])
    return parser


def _add_delegated(sub: Any) -> None:
    """``intents sign-request``, ``sign-warrant`` and ``act``: the device
    secret comes from CALIMERO_DEVICE_SECRET only (never the command line)."""
    req = sub.add_parser(
        "sign-request",
        help="sign one request offline (hex RequestSig); secret from CALIMERO_DEVICE_SECRET",
        epilog=f"Example: {PROG} intents sign-request GET /admin-api/namespaces",
    )
    req.add_argument("method", metavar="METHOD")
    req.add_argument("path", metavar="PATH", help="the path, without a query string")
    req.add_argument("--body", default="", help="the exact body text that will be sent")
    req.add_argument("--valid-for", dest="valid_for", type=int, default=300)
    req.set_defaults(endpoint=None, action="sign-request")
    for name, action, text in (
        (
            "sign-warrant",
            "sign-warrant",
            "sign a warrant for the relay at --node-url (its executor and release, and the "
            "next nonce, are asked of it unless given)",
        ),
        (
            "act",
            "act",
            "have the relay at --node-url run METHOD for your account: sign a warrant and "
            "perform the intent",
        ),
    ):
        cmd = sub.add_parser(
            name,
            help=text,
            description=text + ". Needs --device-credential (or CALIMERO_DEVICE_CREDENTIAL) "
            "and CALIMERO_DEVICE_SECRET.",
            epilog=f'Example: {PROG} intents {name} CONTEXT_ID set --args \'{{"key": "k"}}\'',
        )
        cmd.add_argument("context_id", metavar="CONTEXT_ID")
        cmd.add_argument("method", metavar="METHOD", help="the application's method")
        cmd.add_argument("--args", dest="args", default="{}", help="JSON text (default {})")
        cmd.add_argument("--nonce", type=int, default=None)
        cmd.add_argument("--valid-for", dest="valid_for", type=int, default=300)
        for option in ("executor", "executor_key", "release_bytecode_id", "release_version"):
            cmd.add_argument(_option(option), dest=option, default=None)
        cmd.set_defaults(endpoint=None, action=action)


def _device_secret() -> str:
    secret = os.environ.get("CALIMERO_DEVICE_SECRET")
    if not secret:
        raise ValueError("device_secret: set CALIMERO_DEVICE_SECRET (64 hex characters)")
    return secret


def _delegated_action(ns: argparse.Namespace, connection: Any) -> Any:
    if ns.action == "sign-request":
        return sign_request(ns.method, ns.path, _device_secret(), ns.body, ns.valid_for)
    credential = ns.device_credential
    if not credential:
        raise ValueError(
            "device_credential: pass --device-credential or CALIMERO_DEVICE_CREDENTIAL"
        )
    client = create_client(connection)
    fields = ("executor", "executor_key", "release_bytecode_id", "release_version")
    given = {f: getattr(ns, f) for f in fields}
    if any(v is None for v in given.values()):
        info = client.get_intent_relay(ns.context_id)["data"]
        wire = ("executorAccount", "executorKey", "releaseBytecodeId", "releaseVersion")
        for field, key in zip(fields, wire):
            if given[field] is None:
                given[field] = info[key]
    nonce = ns.nonce if ns.nonce is not None else client.next_warrant_nonce(ns.context_id)
    warrant = sign_warrant(
        ns.context_id,
        given["executor"],
        given["executor_key"],
        given["release_bytecode_id"],
        given["release_version"],
        ns.method,
        ns.args,
        nonce,
        _device_secret(),
        credential,
        ns.valid_for,
    )
    if ns.action == "sign-warrant":
        return warrant
    return client.perform_intent(ns.context_id, ns.method, ns.args, warrant["warrant"], credential)


def _add_events(top: Any) -> None:
    events = top.add_parser(
        "events",
        help="watch live events of contexts and groups",
        description="Live events from the node (Server-Sent Events or a WebSocket).",
        epilog=f"Example: {PROG} events watch --context CONTEXT_ID",
    )
    sub = events.add_subparsers(dest="command", metavar="COMMAND", required=True)
    watch = sub.add_parser(
        "watch",
        help="print events as they come, one per line, until Ctrl-C",
        description=(
            "Subscribes to contexts (base58 ids) and groups (64-hex ids) and prints each "
            "event as it arrives: a line of JSON with --json, else a short summary. The "
            "subscription reconnects by itself; a reconnect prints a 'reconnected' line, "
            "since events sent meanwhile are not replayed. Ctrl-C stops it (exit 0)."
        ),
        epilog=(
            f"Example: {PROG} events watch --context CONTEXT_ID --group GROUP_ID "
            "--transport ws --count 10"
        ),
    )
    watch.add_argument(
        "--context", dest="contexts", action="append", default=[], metavar="CONTEXT_ID"
    )
    watch.add_argument("--group", dest="groups", action="append", default=[], metavar="GROUP_ID")
    watch.add_argument("--transport", choices=["sse", "ws"], default="sse")
    watch.add_argument(
        "--count",
        type=int,
        default=None,
        help="stop after this many events (not counting reconnects)",
    )
    watch.set_defaults(endpoint=None, action="watch")


def _event_line(event: dict[str, Any]) -> str:
    """One event as a short human line."""
    kind = event.get("type", "?")
    if kind == "reconnected":
        return (
            f"-- reconnected ({event.get('transport')}, attempt {event.get('attempt')}); "
            "events sent meanwhile are lost"
        )
    if "contextId" in event:
        where = f"context {event['contextId']}"
    elif "groupId" in event:
        where = f"group {event['groupId']}"
    else:
        where = ""
    data = event.get("data")
    detail = json.dumps(data, ensure_ascii=False) if data is not None else ""
    if len(detail) > 120:
        detail = detail[:117] + "..."
    return f"{time.strftime('%H:%M:%S')}  {kind:<18} {where}  {detail}".rstrip()


def _watch(ns: argparse.Namespace, connection: Any) -> None:
    if not ns.contexts and not ns.groups:
        raise ValueError("events watch: give at least one --context or --group")
    if ns.count is not None and ns.count < 1:
        raise ValueError(f"--count: expected a positive number, got {ns.count}")
    client = create_client(connection)
    seen = 0
    with client.subscribe(ns.contexts, ns.groups, transport=ns.transport) as subscription:
        for event in subscription:
            if ns.json:
                print(json.dumps(event, ensure_ascii=False), flush=True)
            else:
                print(_event_line(event), flush=True)
            if event.get("type") != "reconnected":
                seen += 1
                if ns.count is not None and seen >= ns.count:
                    break


def _add_toplevel_call(top: Any, call: dict[str, Any]) -> None:
    cmd = top.add_parser(
        "call",
        help="call a method of a context's application (JSON-RPC execute)",
        description=f"{call['doc']}\n\nNode route: POST /jsonrpc",
        epilog=f'Example: {PROG} call CONTEXT_ID get --args \'{{"key": "k"}}\'',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.set_defaults(endpoint=call, action=None)
    cmd.add_argument("context_id", metavar="CONTEXT_ID", help="base58 id")
    cmd.add_argument("method", metavar="METHOD", help="the application's method")
    cmd.add_argument("--args", dest="args", help="JSON text (default {})")


def _add_auth(top: Any) -> None:
    auth = top.add_parser(
        "auth",
        help="log in, log out, show the token state",
        description="Authentication against a node in embedded auth mode.",
        epilog=f"Example: {PROG} --node-name prod auth login --username admin",
    )
    sub = auth.add_subparsers(dest="command", metavar="COMMAND", required=True)
    login = sub.add_parser(
        "login",
        help="log in with a user name and password (cached for --node-name)",
        description=(
            "Logs in and caches the tokens for --node-name. The password is read from "
            "CALIMERO_PASSWORD, or asked on the terminal."
        ),
        epilog=f"Example: {PROG} --node-name prod auth login --username admin",
    )
    login.add_argument("--username", default=os.environ.get("CALIMERO_USERNAME"))
    login.set_defaults(endpoint=None, action="login")
    logout = sub.add_parser(
        "logout",
        help="forget the tokens (and delete the cache file of --node-name)",
        epilog=f"Example: {PROG} --node-name prod auth logout",
    )
    logout.set_defaults(endpoint=None, action="logout")
    status = sub.add_parser(
        "status",
        help="whether a token is held and when it expires (never the token)",
        epilog=f"Example: {PROG} --node-name prod auth status",
    )
    status.set_defaults(endpoint=None, action="status")


def _fail(message: str, code: int) -> NoReturn:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    raise SystemExit(code)


@contextmanager
def _progress(label: str, enabled: bool) -> Iterator[Callable[[int, int | None], None] | None]:
    """A progress bar on stderr (when it is a terminal), as a callback."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    from rich.console import Console

    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _cell(value: Any) -> str:
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= 80 else text[:77] + "..."


def _human(result: Any) -> None:
    """Prints an answer for people: lists of objects as tables, objects as
    key/value tables, anything else as it is."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    # In a terminal, fit its width; in a pipe or a file, never cut a value.
    console = Console(soft_wrap=True) if sys.stdout.isatty() else Console(width=1_000_000)
    # Unwrap the node's envelopes: {"data": x} and single-key list wrappers.
    while isinstance(result, dict) and len(result) == 1:
        ((key, inner),) = result.items()
        if key == "data" or isinstance(inner, list):
            result = inner
        else:
            break
    if isinstance(result, list) and result and all(isinstance(r, dict) for r in result):
        columns: list[str] = []
        for row in result:
            columns += [k for k in row if k not in columns]
        table = Table(box=box.SIMPLE_HEAD)
        for c in columns:
            table.add_column(c, overflow="fold")
        for row in result:
            table.add_row(*(_cell(row.get(c, "")) for c in columns))
        console.print(table)
        console.print(f"{len(result)} row{'s' if len(result) != 1 else ''}")
    elif isinstance(result, list):
        if not result:
            console.print("(none)")
        for item in result:
            console.print(_cell(item), markup=False, highlight=False)
    elif isinstance(result, dict):
        if not result:
            console.print("ok")
            return
        table = Table(box=box.SIMPLE, show_header=False)
        table.add_column("key", style="bold")
        table.add_column("value", overflow="fold")
        for k, v in result.items():
            table.add_row(str(k), _cell(v))
        console.print(table)
    elif result is None:
        console.print("ok")
    else:
        console.print(str(result), markup=False, highlight=False)


def _print(result: Any, as_json: bool) -> None:
    if isinstance(result, BlobChunks):
        with result:
            for chunk in result:
                sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
    elif isinstance(result, bytes):
        sys.stdout.buffer.write(result)
        sys.stdout.buffer.flush()
    elif as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        _human(result)


def _auth_action(ns: argparse.Namespace, connection: Any) -> Any:
    if ns.action == "login":
        username = ns.username
        password = os.environ.get("CALIMERO_PASSWORD")
        if not username or not password:
            if not sys.stdin.isatty():
                raise ValueError(
                    "login needs --username (or CALIMERO_USERNAME) and CALIMERO_PASSWORD "
                    "when stdin is not a terminal"
                )
            import getpass

            username = username or input("Username: ").strip()
            password = password or getpass.getpass("Password: ")
        token = connection.login(username, password)
        return {"logged_in": True, "node_name": ns.node_name, "expires_at": token.expires_at}
    if ns.action == "logout":
        connection.logout()
        return {"logged_out": True, "node_name": ns.node_name}
    token = connection.token
    return {
        "node_url": connection.api_url,
        "node_name": ns.node_name,
        "token": token is not None,
        "expires_at": None if token is None else token.expires_at,
        "expired": None if token is None else token.is_expired(),
        "refresh_token": None if token is None else token.refresh_token is not None,
    }


def _is_failed_envelope(ns: argparse.Namespace, result: Any) -> bool:
    endpoint = getattr(ns, "endpoint", None)
    return (
        endpoint is not None
        and endpoint["output"] == "rpc_envelope"
        and isinstance(result, dict)
        and result.get("error") is not None
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        signing = ns.device_credential and ns.action != "sign-request"
        connection = create_connection(
            ns.node_url,
            ns.node_name,
            ns.device_credential if signing else None,
            _device_secret() if signing else None,
            ns.device_session if signing else None,
            timeout=ns.timeout,
            max_retries=ns.max_retries,
            node_version=ns.node_version,
        )
        if ns.action in ("sign-request", "sign-warrant", "act"):
            result: Any = _delegated_action(ns, connection)
        elif ns.action == "detect-auth-mode":
            result = str(connection.detect_auth_mode())
        elif ns.action in ("login", "logout", "status"):
            result = _auth_action(ns, connection)
        elif ns.action == "watch":
            try:
                _watch(ns, connection)
            except KeyboardInterrupt:
                pass  # the way to stop watching
            return 0
        else:
            endpoint = ns.endpoint
            kwargs: dict[str, Any] = {}
            for arg in endpoint["args"]:
                if arg["kind"] in _SKIPPED_KINDS:
                    continue
                value = getattr(ns, arg["name"], None)
                if value is not None and arg["kind"] != "bool":
                    value = _convert(arg["name"], arg["kind"], value)
                kwargs[arg["name"]] = value
            client = create_client(connection)
            method = getattr(client, endpoint["name"])
            wants_bar = any(a["kind"] == "progress" for a in endpoint["args"])
            label = "upload" if endpoint["name"] == "upload_blob" else "download"
            with _progress(label, wants_bar and sys.stderr.isatty()) as bar:
                if bar is not None:
                    kwargs["progress"] = bar
                result = method(**kwargs)
        _print(result, ns.json)
        if _is_failed_envelope(ns, result):
            # `rpc execute` prints the JSON-RPC envelope as the node sent it;
            # an error in it is still a failed call for the exit status
            return 1
    except ClientError as e:
        if ns.debug:
            raise
        _fail(str(e), 1)
    except (ValueError, TypeError, OSError) as e:
        # OSError here is a local file (a missing upload, an unwritable path).
        if ns.debug:
            raise
        _fail(str(e), 2)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Every call merobox makes into calimero-client-py, found in its source.

merobox reaches the client four ways: ``client.<method>(...)`` on a client
from ``get_client_for_rpc_url``/``create_client``; ``m = getattr(client,
"<method>", None)`` and then ``m(...)``; the helpers ``call_admin_api`` and
``call_namespace_api`` (and their ``_with_retry`` cores), which call
``getattr(client, "<method>")(*args)``; and the module functions
(``create_connection``, ``get_token_cache_path``, ...). This module finds
every such call site with the shape of its arguments (how many positional,
which keywords) and checks that it binds to our ``calimero.Client``
signature, the way Python would bind it at run time.

Statuses:

- ``ok``: the method exists and merobox's arguments bind to it;
- ``pending``: the call needs the official 0.9.0 surface (node release
  rc.83), which another change adds: listed in :data:`PENDING`;
- ``fallback``: a call in the ``else`` of ``if callable(getattr(client,
  "<newer>", None))``, only reached with a client that lacks the newer
  method, which ours has;
- ``not in the official client``: merobox code that calls a method the
  official client never had (it raised AttributeError there too);
- ``missing`` / ``does not bind``: a defect of ours.

Run it as a script to print the table: ``python tests/merobox_compat/audit.py
PATH/TO/merobox [0.6.31|0.9.0]`` (the package directory of an installed or
unpacked merobox, and the official release it was written for).
"""

from __future__ import annotations

import ast
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path

#: Methods of the official client 0.6.31 (node-api.md 3.3) and 0.9.0
#: (official-0.9.0.md), by name.
OFFICIAL_0_6_31 = frozenset(
    """get_api_url get_application list_applications list_application_versions get_context
    list_contexts install_application install_dev_application uninstall_application upload_blob
    download_blob list_blobs get_blob_info delete_blob generate_context_identity get_peers_count
    create_context delete_context get_context_storage get_context_identities sync_context
    execute_function update_context_application sync_all_contexts resync_context
    create_context_alias create_application_alias delete_context_alias
    delete_context_identity_alias delete_application_alias list_context_aliases
    list_context_identity_aliases list_application_aliases lookup_context_alias
    lookup_application_alias lookup_context_identity_alias resolve_context_alias
    resolve_application_alias resolve_context_identity_alias create_alias_generic
    create_namespace get_namespace delete_namespace list_namespaces get_node_identity
    pair_device_init pair_device_complete revoke_device list_namespaces_for_application
    create_namespace_invitation join_namespace list_namespace_groups create_group_in_namespace
    reparent_group list_subgroups get_group_info delete_group join_context
    join_subgroup_inheritance leave_context leave_group leave_namespace list_group_members
    list_group_contexts add_group_members remove_group_members set_member_capabilities
    set_member_auto_follow get_member_capabilities set_group_metadata set_member_metadata
    set_context_metadata get_group_metadata get_member_metadata get_context_metadata
    update_member_role set_default_capabilities set_subgroup_visibility set_default_visibility
    sync_group upgrade_group get_group_upgrade_status get_cascade_status get_migration_status
    abort_migration retry_group_upgrade detach_context_from_group""".split()
)
OFFICIAL_0_9_0_ONLY = frozenset(
    """admit_join relink_device list_account_devices list_account_applications
    get_intent_relay perform_intent""".split()
)
#: Methods merobox calls that neither official client has (merobox CLI
#: commands and fallbacks written for older clients).
NEVER_OFFICIAL = frozenset(
    """list_groups join_group create_group create_group_invitation register_group_signing_key
    list_proposals get_proposal get_proposal_approvers list_identities create_account""".split()
)
MODULE_FUNCTIONS = frozenset(
    "create_connection create_client get_token_cache_path get_token_cache_dir".split()
)

#: Methods whose parameters mean something else in 0.9.0 than in 0.6.31: ours
#: takes both as forms (newest first), and a call must bind the form of the
#: official release it was written for.
CHANGED_IN_0_9_0 = frozenset({"install_application", "pair_device_init", "pair_device_complete"})

#: Calls that need the official 0.9.0 surface (node release rc.83): they
#: wait for the node-release support (issue 14), which adds them to the
#: endpoint table. method -> what 0.9.0 takes.
PENDING = {
    "install_application": "install_application(package, version): registry install, rc.83",
    "install_dev_application": "install_dev_application(path): rc.83 drops metadata",
    "pair_device_init": (
        "pair_device_init(account_root_public_key, namespaces, account_namespace=None)"
    ),
    "pair_device_complete": (
        "pair_device_complete(device_id, kem_public_key, sign_public_key, statement, "
        "confirmation_code, applications=None)"
    ),
    "relink_device": "relink_device(device_id, applications=None)",
    "list_account_devices": "list_account_devices()",
    "list_account_applications": "list_account_applications()",
    "perform_intent": "perform_intent(context_id, method, args, warrant, author_proof)",
    "get_intent_relay": "get_intent_relay(context_id)",
    "admit_join": "admit_join(namespace_id, invitation_json, signed_op)",
    "create_namespace_invitation": (
        "create_namespace_invitation(namespace_id, recursive=None, "
        "expiration_timestamp=None, admitters=None)"
    ),
}

#: merobox's helpers that call ``getattr(client, name)(*args)``.
HELPERS = {
    "call_admin_api",
    "_call_admin_api_with_retry",
    "call_namespace_api",
    "_call_namespace_api_with_retry",
}
HELPER_KEYWORDS = {"node_name"}  # the helpers' own, not passed on


@dataclass
class CallSite:
    file: str
    line: int
    method: str
    positional: int
    keywords: tuple[str, ...]
    starred: bool  # *args or **kwargs: the shape is known only at run time
    via: str  # "client", "getattr", "helper", "module", "dispatch"
    fallback: bool = False

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


def _is_client(node: ast.expr) -> bool:
    """``client``, ``self.client``, ``c``... : a name that says client."""
    if isinstance(node, ast.Name):
        return "client" in node.id.lower()
    if isinstance(node, ast.Attribute):
        return "client" in node.attr.lower()
    if isinstance(node, ast.Call):  # get_client_for_rpc_url(...).method(...)
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        return "client" in name.lower()
    return False


def _getattr_name(node: ast.expr) -> str | None:
    """``getattr(client, "name", ...)`` -> ``"name"``."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) >= 2
        and _is_client(node.args[0])
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
    ):
        return node.args[1].value
    return None


#: Calls whose method name is data, read off merobox's source by hand:
#: (file, method, positional arguments). group_metadata.py's steps call
#: ``getattr(client, self._api_method)(group_id, *extra_args[, body])`` with
#: ``extra_args`` one value per name in the subclass's ``_extra_required``.
DISPATCHED = [
    ("merobox/commands/bootstrap/steps/group_metadata.py", "set_group_metadata", 2),
    ("merobox/commands/bootstrap/steps/group_metadata.py", "set_member_metadata", 3),
    ("merobox/commands/bootstrap/steps/group_metadata.py", "set_context_metadata", 3),
    ("merobox/commands/bootstrap/steps/group_metadata.py", "get_group_metadata", 1),
    ("merobox/commands/bootstrap/steps/group_metadata.py", "get_member_metadata", 2),
    ("merobox/commands/bootstrap/steps/group_metadata.py", "get_context_metadata", 2),
]


def _dict_keys(node: ast.expr) -> set[str] | None:
    """The keys of a dict literal with constant string keys."""
    if isinstance(node, ast.Dict) and all(
        isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys
    ):
        return {k.value for k in node.keys}  # type: ignore[union-attr]
    return None


class _Finder(ast.NodeVisitor):
    def __init__(self, file: str, known: frozenset[str]) -> None:
        self.file = file
        self.known = known
        self.sites: list[CallSite] = []
        self.aliases: list[dict[str, str]] = [{}]
        # per function: a dict built from a literal (and ``d["k"] = v``), so
        # that ``f(**d)`` has known keywords: every key it may hold
        self.dicts: list[dict[str, set[str]]] = [{}]
        self.fallback_depth = 0

    def _function(self, node: ast.AST) -> None:
        self.aliases.append({})
        self.dicts.append({})
        self.generic_visit(node)
        self.dicts.pop()
        self.aliases.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def _assigned(self, targets: list[ast.expr], value: ast.expr) -> None:
        name = _getattr_name(value)
        keys = _dict_keys(value)
        for target in targets:
            if isinstance(target, ast.Name):
                if name:
                    self.aliases[-1][target.id] = name
                if keys is not None:
                    self.dicts[-1][target.id] = set(keys)
            elif (
                isinstance(target, ast.Subscript)
                and isinstance(target.value, ast.Name)
                and target.value.id in self.dicts[-1]
                and isinstance(target.slice, ast.Constant)
                and isinstance(target.slice.value, str)
            ):
                self.dicts[-1][target.value.id].add(target.slice.value)

    def visit_Assign(self, node: ast.Assign) -> None:
        self._assigned(node.targets, node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._assigned([node.target], node.value)
        self.generic_visit(node)

    def visit_If(self, node: ast.If) -> None:
        guarded = (
            isinstance(node.test, ast.Call)
            and isinstance(node.test.func, ast.Name)
            and node.test.func.id == "callable"
        )
        self.visit(node.test)
        for child in node.body:
            self.visit(child)
        if guarded:
            self.fallback_depth += 1
        for child in node.orelse:
            self.visit(child)
        if guarded:
            self.fallback_depth -= 1

    def _add(self, node: ast.Call, method: str, via: str, skip: int = 0) -> None:
        args = node.args[skip:]
        keywords = [k.arg for k in node.keywords if k.arg is not None]
        starred = any(isinstance(a, ast.Starred) for a in args)
        for k in node.keywords:
            if k.arg is not None:
                continue
            known = self.dicts[-1].get(k.value.id) if isinstance(k.value, ast.Name) else None
            if known is None:
                starred = True
            else:
                keywords += sorted(known)
        if via == "helper":
            keywords = [k for k in keywords if k not in HELPER_KEYWORDS]
        self.sites.append(
            CallSite(
                self.file,
                node.lineno,
                method,
                len(args),
                tuple(keywords),
                starred,
                via,
                fallback=self.fallback_depth > 0,
            )
        )

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and _is_client(func.value) and func.attr in self.known:
            self._add(node, func.attr, "client")
        elif isinstance(func, ast.Name):
            alias = next((a[func.id] for a in reversed(self.aliases) if func.id in a), None)
            if alias:
                self._add(node, alias, "getattr")
            elif func.id in MODULE_FUNCTIONS:
                self._add(node, func.id, "module")
            elif (
                func.id in HELPERS
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                self._add(node, node.args[1].value, "helper", skip=2)
        elif isinstance(func, ast.Call) and _getattr_name(func):
            self._add(node, _getattr_name(func) or "", "getattr")
        self.generic_visit(node)


def known_methods(client: type) -> frozenset[str]:
    """The method names to look for: both official clients', ours, and
    the ones merobox calls that no client has."""
    ours = {n for n in dir(client) if not n.startswith("_") and callable(getattr(client, n))}
    return OFFICIAL_0_6_31 | OFFICIAL_0_9_0_ONLY | NEVER_OFFICIAL | frozenset(ours)


def find_calls(package: Path, known: frozenset[str]) -> list[CallSite]:
    """Every call into the client in merobox's package directory (its tests
    excluded), for the method names in ``known``."""
    sites = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent).as_posix()
        if "/tests/" in f"/{rel}":
            continue
        finder = _Finder(rel, known | MODULE_FUNCTIONS)
        finder.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        sites.extend(finder.sites)
        for file, method, positional in DISPATCHED:
            if file == rel:
                sites.append(CallSite(rel, 0, method, positional, (), False, "dispatch"))
    return sites


def bind(site: CallSite, target: object, form: int | None = None) -> str | None:
    """Why ``site``'s arguments do not bind to ``target``, or None. A method
    with several forms (``__forms__``, newest first: its signature changed
    between node releases) binds when one form does, or form ``form``."""
    if site.starred:
        return None  # checked at run time by the workflows
    forms = getattr(target, "__forms__", None)
    if forms is not None:
        chosen = forms if form is None else (forms[form],)
        problems = [bind(site, f) for f in chosen]
        return None if None in problems else problems[0]
    signature = inspect.signature(target)
    params = list(signature.parameters.values())
    if params and params[0].name == "self":
        signature = signature.replace(parameters=params[1:])
    try:
        signature.bind(*range(site.positional), **{k: None for k in site.keywords})
    except TypeError as e:
        return str(e)
    return None


def status(site: CallSite, client: type, module: object, surface: str = "0.6.31") -> str:
    """``site``'s status against our ``client``; ``surface`` is the official
    release the calling merobox was written for (``"0.6.31"`` or
    ``"0.9.0"``)."""
    name = site.method
    if site.via == "module":
        target = getattr(module, name, None)
        return "ok" if target is not None and bind(site, target) is None else "does not bind"
    if site.fallback:
        return "fallback"
    target = getattr(client, name, None)
    if name in CHANGED_IN_0_9_0:
        # Both signatures are forms of one method (the newest is 0.9.0's):
        # the call must bind the form of the release merobox was written for.
        if target is None:
            return "missing"
        problem = bind(site, target, 0 if surface == "0.9.0" else -1)
        return f"does not bind: {problem}" if problem else "ok"
    if name in OFFICIAL_0_9_0_ONLY:
        return "pending" if target is None or bind(site, target) else "ok"
    if name not in OFFICIAL_0_6_31:
        return "not in the official client"
    if target is None:
        return "missing"
    problem = bind(site, target)
    if problem:
        return "pending" if name in PENDING else f"does not bind: {problem}"
    return "ok"


def shape(site: CallSite) -> str:
    parts = [f"{site.positional} positional"] if site.positional else []
    parts += [f"{k}=" for k in site.keywords]
    if site.starred:
        parts.append("*args")
    return ", ".join(parts) or "no arguments"


def main(argv: list[str]) -> int:
    import calimero

    package = Path(argv[0])
    surface = argv[1] if len(argv) > 1 else "0.6.31"
    rows = find_calls(package, known_methods(calimero.Client))
    print("| call site | method | merobox's arguments | status |")
    print("|---|---|---|---|")
    for site in rows:
        print(
            f"| `{site.where}` | `{site.method}` | {shape(site)} | "
            f"{status(site, calimero.Client, calimero, surface)} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

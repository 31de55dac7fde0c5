"""The node's route list (node-api.md 1.2 to 1.12, kept in
tests/data/node_routes.txt) against the endpoint table: every route has a
Client method, every method calls a listed route, and every method is
exercised by a scenario test of its own (beyond the table-driven ones)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import calimero

HERE = Path(__file__).parent
ROUTES_FILE = HERE / "data" / "node_routes.txt"
LATER_FILE = HERE / "data" / "node_routes_later.txt"
NODE_API = HERE.parent.parent / "shared" / "reference" / "node-api.md"

# Tests that walk the whole table generically; a method must also appear in
# some other test.
# A route-table row of node-api.md: `VERB[/VERB] /path`.
ROW = r"`((?:GET|POST|PUT|DELETE|HEAD)(?:/(?:GET|POST|PUT|DELETE|HEAD))*) (/[^` ?]+)"

GENERIC = {"test_routes.py", "test_validation.py", "test_error_paths.py"}


def normalise(verb: str, path: str) -> str:
    """`GET /a/:x/b` and `GET /a/{y}/b` both become `GET /a/{}/b`."""
    path = re.sub(r":[a-z_]+", "{}", path)
    path = re.sub(r"\{[a-z_]+\}", "{}", path)
    return f"{verb} {path}"


def listed_routes(path: Path = ROUTES_FILE) -> list[str]:
    lines = path.read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def later_routes() -> dict[str, str]:
    """Route -> the release that added it (``0.11.0-rc.N``)."""
    out = {}
    for line in LATER_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            release, verb, path = line.split()
            out[normalise(verb, path)] = "0.11.0-" + release
    return out


def table_routes() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in calimero.ENDPOINTS:
        out.setdefault(normalise(e["verb"], e["path"]), []).append(e["name"])
    return out


def test_every_node_route_has_a_client_method() -> None:
    covered = table_routes()
    missing = [r for r in listed_routes() if normalise(*r.split(" ", 1)) not in covered]
    assert missing == []


def test_every_later_route_has_a_client_method_served_from_its_release() -> None:
    by_route: dict[str, list[dict]] = {}
    for e in calimero.ENDPOINTS:
        by_route.setdefault(normalise(e["verb"], e["path"]), []).append(e)
    for route, release in later_routes().items():
        assert route in by_route, route
        assert [e["since"] for e in by_route[route]] == [release], route


def test_rc25_routes_are_served_from_rc25() -> None:
    """The rc.25 routes have no `since` (a route of every release), except
    where a newer form of the method replaced them; the form that calls an
    rc.25 route is served by rc.25."""
    for e in calimero.ENDPOINTS:
        if normalise(e["verb"], e["path"]) in later_routes():
            continue
        assert e["since"] is None or e["since"] <= "0.11.0-rc.31", e["name"]
        if e["since"] is None:
            assert e["until"] is None or e["until"] >= "0.11.0-rc.27", e["name"]


def test_every_client_method_calls_a_node_route() -> None:
    listed = {normalise(*r.split(" ", 1)) for r in listed_routes()} | set(later_routes())
    invented = {r: names for r, names in table_routes().items() if r not in listed}
    assert invented == {}


def test_route_list_matches_node_api_md() -> None:
    if not NODE_API.exists():
        pytest.skip("node-api.md is not beside this checkout")
    text = NODE_API.read_text()
    section = text[text.index("### 1.2 ") : text.index("### 1.13 ")]
    found = []
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        cell = line.split("|")[1].strip()
        m = re.match(ROW, cell)
        if m:
            found += [f"{verb} {m.group(2)}" for verb in m.group(1).split("/")]
    assert [*found, "POST /jsonrpc"] == listed_routes()


def test_the_route_list_is_not_trivially_small() -> None:
    # A truncated file would make the checks above pass vacuously.
    assert len(listed_routes()) >= 100


def test_every_method_has_a_scenario_test() -> None:
    sources = "\n".join(p.read_text() for p in HERE.glob("test_*.py") if p.name not in GENERIC)
    untested = [
        e["name"] for e in calimero.ENDPOINTS if not re.search(rf"\.{e['name']}\(", sources)
    ]
    assert untested == []

"""Fuzzing the JSON API edge: random JSON values and shapes sent to every route that takes
a body never produce a 500 (issue 10: "so the next class of crash is found by CI").

Routes come from the router, field names from the OpenAPI document, so new routes and
fields are fuzzed without editing this file. Bounded: a fixed number of examples.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web_fixtures import ServedRoute, StaffClient, WebSite, served_routes

from agent_ui.api.openapi import DOCUMENT

NOT_FUZZED = {"/logout"}  # it would end the fuzzing session; it reads no body


def field_names() -> list[str]:
    names: set[str] = set()
    for schema in DOCUMENT["components"]["schemas"].values():
        names.update(schema.get("properties", {}))
    return sorted(names | {"name", "number", "target", "state", "kind", "levels", "keywords", "pbx"})


_edge_numbers = st.sampled_from([0, -1, 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, 1.5, -0.0, 1e308])
_edge_text = st.sampled_from(["", " ", "\ud800", "a\x00b", "x" * 600, "\u2028", "1", "true", "null", "../..",
                              "{{ 7*7 }}", "<script>", "agent", "urgent", "open", "other"])
_scalars = st.one_of(st.none(), st.booleans(), st.integers(), _edge_numbers, st.floats(allow_nan=False, allow_infinity=False),
                     st.text(max_size=20), _edge_text)
json_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(field_names()), st.text(max_size=5)), children, max_size=5),
    ),
    max_leaves=12,
)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(field_names()), json_values, max_size=6),  # plausible objects
    json_values,  # anything at all, objects or not
)
raw_bodies = st.sampled_from([b"", b"{", b"[]" * 3, b'{"a":' * 40 + b"1" + b"}" * 40, b"\xff\xfe", b'{"a": NaN}',
                              b'{"a": 1e999}', b"null", b'"text"', b"{" * 5000])


def json_routes(site: WebSite) -> list[ServedRoute]:
    return [r for r in served_routes(site.server.app)
            if r.method in ("POST", "PUT", "PATCH") and r.canonical not in NOT_FUZZED]


async def admin_of(site: WebSite) -> StaffClient:
    if not site.clients:
        admin = await site.login("admin")
        await admin.api("POST", "/api/v1/tickets", json={"subject": "a ticket to aim at"}, status=201)
    return site.clients[0]


async def post(client: StaffClient, route: ServedRoute, raw: bytes) -> int:
    headers = {"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": client.csrf_token or ""}
    response = await client.http.request(route.method, route.path, data=raw, headers=headers, allow_redirects=False)
    await response.read()
    return response.status


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
async def test_random_json_to_any_route_is_never_a_500(site: WebSite, data: st.DataObject) -> None:
    admin = await admin_of(site)
    route = data.draw(st.sampled_from(json_routes(site)), label="route")
    body: Any = data.draw(bodies, label="body")
    status = await post(admin, route, json.dumps(body).encode())
    assert status != 500, f"{route}: {body!r}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_broken_bodies_to_any_route_are_never_a_500(site: WebSite, data: st.DataObject) -> None:
    admin = await admin_of(site)
    route = data.draw(st.sampled_from(json_routes(site)), label="route")
    raw = data.draw(raw_bodies, label="raw")
    status = await post(admin, route, raw)
    assert status != 500, f"{route}: {raw[:80]!r}"


async def test_every_json_route_is_in_the_fuzzed_set(site: WebSite) -> None:
    everything = served_routes(site.server.app)
    writes = [r for r in everything if r.method in ("POST", "PUT", "PATCH")]
    assert len(json_routes(site)) == len(writes) - len(NOT_FUZZED)

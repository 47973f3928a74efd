"""Unhandled 500s and unbounded sizes: deep JSON, numbers that do not fit, wrong types and
huge text each get a 400 naming the field, and nothing is written (issue 10, finding 6)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from web_fixtures import StaffClient, WebSite

from agent_ui.api.openapi import DOCUMENT
from agent_ui.base.input_caps import CAPS
from agent_ui.base.inputs import check_value, parse_json
from core.errors import InvalidInput

TOO_BIG = 2**63  # one more than the largest 64-bit integer a column holds


async def a_ticket(agent: StaffClient) -> int:
    body = await agent.api("POST", "/api/v1/tickets", json={"subject": "hello"}, status=201)
    return int(body["ticket"]["id"])


async def send_raw(client: StaffClient, method: str, path: str, raw: str) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", "X-CSRF-Token": client.csrf_token or ""}
    response = await client.http.request(method, path, data=raw.encode(), headers=headers)
    return response.status, await response.json()


async def count_tickets(client: StaffClient) -> int:
    return len((await client.api("GET", "/api/v1/tickets?status=all"))["tickets"])


@pytest.mark.parametrize("raw", ["[" * 100_000 + "]" * 100_000, '{"subject":' + "[" * 100_000 + "]" * 100_000 + "}",
                                 '{"subject": "x", "queue": ' + '{"a":' * 50 + "1" + "}" * 51])
async def test_deeply_nested_json_is_a_400_not_a_recursion_crash(site: WebSite, raw: str) -> None:
    agent = await site.login("agent")
    status, body = await send_raw(agent, "POST", "/api/v1/tickets", raw)
    assert status == 400
    assert "nests deeper" in body["message"]
    assert body["details"]["field"]
    assert await count_tickets(agent) == 0


@pytest.mark.parametrize(("raw", "field"), [
    ('{"subject": "x", "customer_id": 1e999}', "customer_id"),
    ('{"subject": "x", "customer_id": -1e999}', "customer_id"),
    ('{"subject": "x", "customer_id": NaN}', "customer_id"),
    ('{"subject": "x", "customer_id": Infinity}', "customer_id"),
    (f'{{"subject": "x", "customer_id": {TOO_BIG}}}', "customer_id"),
    (f'{{"subject": "x", "customer_id": {-TOO_BIG - 1}}}', "customer_id"),
    (f'{{"subject": "x", "priority": {TOO_BIG}}}', "priority"),
    ('{"subject": "x", "priority": 1.5}', "priority"),
    ('{"subject": "x", "queue": {"nested": 1e999}}', "queue.nested"),
])
async def test_numbers_that_do_not_fit_are_refused_with_their_field(site: WebSite, raw: str, field: str) -> None:
    agent = await site.login("agent")
    status, body = await send_raw(agent, "POST", "/api/v1/tickets", raw)
    assert status == 400, body
    assert body["details"]["field"] == field
    assert await count_tickets(agent) == 0


async def test_a_number_as_long_as_a_page_is_refused(site: WebSite) -> None:
    agent = await site.login("agent")
    status, _ = await send_raw(agent, "POST", "/api/v1/tickets", '{"subject": "x", "customer_id": ' + "9" * 50_000 + "}")
    assert status == 400


@pytest.mark.parametrize("path", [
    "/api/v1/tickets/{big}", "/api/v1/tickets/{big}/timeline", "/api/v1/customers/{big}", "/tickets/{big}",
    "/api/v1/tickets/{big}/sla", "/api/v1/templates/{big}", "/api/v1/articles/{big}", "/help/{big}",
    "/api/v1/tickets/{huge}", "/api/v1/tickets/-{bigger}", "/api/v1/mail/quarantine/{big}",
    "/api/v1/entries/{big}/attachments/0", "/api/v1/entries/1/attachments/{big}",
])
async def test_an_id_beyond_64_bits_in_the_path_is_a_400_naming_it(site: WebSite, path: str) -> None:
    ops = await site.login("ops")
    response = await ops.http.get(path.format(big=TOO_BIG, bigger=TOO_BIG + 1, huge="9" * 5000), headers={"Accept": "application/json"})
    assert response.status == 400, await response.text()
    assert (await response.json())["details"]["field"]


async def test_an_id_beyond_64_bits_in_a_body_or_query_is_a_400(site: WebSite) -> None:
    agent = await site.login("agent")
    supervisor = await site.login("supervisor")
    ticket_id = await a_ticket(agent)
    body = await supervisor.api("PATCH", f"/api/v1/tickets/{ticket_id}", json={"assignee_id": TOO_BIG}, status=400)
    assert body["details"]["field"] == "assignee_id"
    body = await agent.api("POST", f"/api/v1/tickets/{ticket_id}/reply-preview", json={"template_id": TOO_BIG},
                           status=400)
    assert body["details"]["field"] == "template_id"
    for query in (f"customer_id={TOO_BIG}", f"limit={TOO_BIG}", f"assignee={TOO_BIG}"):
        body = await agent.api("GET", f"/api/v1/tickets?{query}", status=400)
        assert body["details"]["field"] == query.split("=")[0]
    body = await supervisor.api("GET", f"/api/v1/alerts?limit={TOO_BIG}", status=400)
    assert body["details"]["field"] == "limit"


@pytest.mark.parametrize("category", [5, ["other"], {"a": 1}, True])
async def test_a_category_that_is_not_a_string_is_a_400(site: WebSite, category: Any) -> None:
    agent = await site.login("agent")
    ticket_id = await a_ticket(agent)
    body = await agent.api("POST", "/api/v1/tickets", json={"subject": "x", "category": category}, status=400)
    assert "category" in str(body)
    body = await agent.api("PATCH", f"/api/v1/tickets/{ticket_id}", json={"category": category}, status=400)
    assert "category" in str(body)


async def test_a_100k_character_subject_is_refused_not_stored_or_cut(site: WebSite) -> None:
    agent = await site.login("agent")
    ticket_id = await a_ticket(agent)
    subject = "s" * 100_000
    body = await agent.api("POST", "/api/v1/tickets", json={"subject": subject}, status=400)
    assert body["details"] == {"field": "subject", "max_length": 500, "length": 100_000}
    body = await agent.api("PATCH", f"/api/v1/tickets/{ticket_id}", json={"subject": subject}, status=400)
    assert body["details"]["field"] == "subject"
    response = await agent.http.post("/tickets", data={"subject": subject, "csrf_token": agent.csrf_token or ""},
                                     allow_redirects=False)
    assert response.status == 400
    assert (await agent.api("GET", f"/api/v1/tickets/{ticket_id}"))["ticket"]["subject"] == "hello"
    assert await count_tickets(agent) == 1
    at_the_cap = await agent.api("POST", "/api/v1/tickets", json={"subject": "s" * 500}, status=201)
    assert len(at_the_cap["ticket"]["subject"]) == 500


async def test_a_1mb_customer_name_is_refused_with_its_field(site: WebSite) -> None:
    agent = await site.login("agent")
    body = await agent.api("POST", "/api/v1/customers", json={"name": "n" * 1_000_000}, status=400)
    assert body["details"]["field"] == "name"
    assert "n" * 1000 not in str(body)  # the error does not echo the megabyte back
    body = await agent.api("POST", "/api/v1/cti/customers", json={"name": "n" * 1_000_000, "number": "+15551234567"},
                           status=400)
    assert body["details"]["field"] == "name"
    created = await agent.api("POST", "/api/v1/customers", json={"name": "Ann"}, status=201)
    body = await agent.api("PATCH", f"/api/v1/customers/{created['customer']['id']}", json={"name": "n" * 201},
                           status=400)
    assert body["details"]["field"] == "name"


async def test_an_oversized_login_or_password_is_refused_before_hashing(site: WebSite) -> None:
    anon = await site.anonymous()
    response = await anon.http.post("/login", data={"login": "agent", "password": "p" * 500_000},
                                    allow_redirects=False)
    assert response.status == 400


def test_the_openapi_document_publishes_the_same_caps() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    published = 0
    for schema, caps in CAPS.items():
        if schema not in schemas:
            continue
        for field, cap in caps.items():
            prop = schemas[schema]["properties"].get(field)
            if prop is None:
                continue
            target = prop.get("items", prop) if prop.get("type") == "array" else prop
            assert target["maxLength"] == cap, (schema, field)
            published += 1
    assert published >= 25


async def test_the_forms_tell_the_browser_the_same_caps(site: WebSite) -> None:
    agent = await site.login("agent")
    ticket_id = await a_ticket(agent)
    queue = await (await agent.http.get("/queue")).text()
    assert f'name="subject" maxlength="{CAPS["TicketDraft"]["subject"]}"' in queue
    page = await (await agent.http.get(f"/tickets/{ticket_id}")).text()
    assert f'maxlength="{CAPS["NoteDraft"]["text"]}"' in page


_json_text = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(st.text(max_size=4), children, max_size=3)),
    max_leaves=20,
).map(json.dumps)


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(_json_text, st.text(max_size=40), st.binary(max_size=40)))
def test_the_json_reader_answers_a_value_or_a_named_400_for_any_input(raw: str | bytes) -> None:
    try:
        value = parse_json(raw)
    except InvalidInput as exc:
        assert exc.status == 400 and exc.details["field"]
        return
    for text in _strings(value):
        text.encode("utf-8")  # never a lone surrogate
    json.dumps(value, allow_nan=False)  # only finite numbers got through


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


_steps = st.lists(st.one_of(st.integers(0, 2), st.text(alphabet="abc_", min_size=1, max_size=3)), min_size=1, max_size=8)
_bad_leaves = st.sampled_from([(2**63, "out of range"), (float("inf"), "finite"), ("\ud800", "surrogate"),
                               ("t" * 200_001, "longer than")])


@settings(max_examples=200, deadline=None)
@given(steps=_steps, bad=_bad_leaves, siblings=st.integers(0, 3))
def test_a_bad_value_anywhere_is_refused_naming_its_exact_path(steps: list[Any], bad: tuple[Any, str],
                                                                siblings: int) -> None:
    leaf, reason = bad
    value: Any = leaf
    for step in reversed(steps):  # build the structure from the leaf outwards, with clean neighbours
        if isinstance(step, int):
            value = [*(["fine"] * step), value, *([1] * siblings)]
        else:
            value = {**{f"{step}{n}": n for n in range(siblings)}, step: value}
    expected = ""
    for step in steps:
        expected += f"[{step}]" if isinstance(step, int) else (f".{step}" if expected else step)
    if isinstance(steps[0], int):
        expected = "(body)" + expected
    try:
        check_value(value)
    except InvalidInput as exc:
        assert exc.details["field"] == expected
        assert reason in exc.message
    else:
        raise AssertionError("not refused")


async def test_knowledge_drafts_share_the_caps_their_validation_uses(site: WebSite) -> None:
    ops = await site.login("ops")
    body = await ops.api("POST", "/api/v1/templates", json={"name": "n" * 201, "body": "b"}, status=400)
    assert body["details"]["field"] == "name"
    page = await (await ops.http.get("/ops/knowledge")).text()
    assert f'name="name" required maxlength="{CAPS["TemplateDraft"]["name"]}"' in page
    assert f'maxlength="{CAPS["ArticleDraft"]["body"]}"' in page
    assert DOCUMENT["components"]["schemas"]["TemplateDraft"]["properties"]["body"]["maxLength"] == 100_000

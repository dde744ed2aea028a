"""integrator.io emulation: tokens, 401/403 shapes, Link paging, 204, licenses, install base and jobs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.credentials import INTEGRATOR_LIMITED_TOKEN
from unit_tests.sandbox.helpers import Client, Running, SandboxFactory, walk_stripe

LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


def walk_links(client: Client, path: str) -> tuple[list[dict[str, Any]], int]:
    """Follow ``Link: rel="next"`` exactly as given; return items and the number of pages."""
    reply = client.get("integrator", path)
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        if reply.status == 204:
            assert reply.raw == b""
            return items, pages
        assert reply.status == 200, reply.raw
        items.extend(reply.json)
        pages += 1
        link = reply.headers.get("link")
        if link is None:
            return items, pages
        url = LINK.match(link)
        assert url is not None, link
        prefix = f"http://127.0.0.1:{client.port}/integrator"
        assert url.group("url").startswith(prefix), "the next URL stays on the sandbox"
        reply = client.get("integrator", url.group("url")[len(prefix) :])


def test_given_tokens_when_calling_token_info_then_scope_and_both_401_shapes(sandbox: Running) -> None:
    assert sandbox.client.get("integrator", "/v1/tokenInfo").json["scope"] == "full"
    limited = sandbox.client.get("integrator", "/v1/tokenInfo", key=INTEGRATOR_LIMITED_TOKEN)
    assert limited.json["scope"] == "limited"
    assert "_userId" in limited.json
    assert sandbox.client.get("integrator", "/v1/tokenInfo", key="nope").json == {"message": "Unauthorized"}
    other = sandbox.client.get("integrator", "/v1/connectors", key="nope")
    assert other.status == 401
    assert other.json["errors"][0]["code"] == "unauthorized"
    assert sandbox.client.get("integrator", "/v1/connectors", key=None).status == 401


def test_given_limited_token_when_reading_connectors_then_403(sandbox: Running) -> None:
    for path in ("/v1/connectors", "/v1/connectors/x/licenses"):
        reply = sandbox.client.get("integrator", path, key=INTEGRATOR_LIMITED_TOKEN)
        assert reply.status == 403
        assert reply.json["errors"][0]["code"] == "forbidden"
    assert sandbox.client.get("integrator", "/v1/flows", key=INTEGRATOR_LIMITED_TOKEN).status == 200


def test_given_small_page_size_when_following_links_then_every_license_once(
    make_sandbox: SandboxFactory,
) -> None:
    running = make_sandbox(integrator_page_size=3)
    connectors, pages = walk_links(running.client, "/v1/connectors")
    assert pages > 1 or len(connectors) <= 3
    all_licenses = running.client.control("GET", "objects/integrator/licenses")["data"]
    seen: list[dict[str, Any]] = []
    empty = 0
    for connector in connectors:
        licenses, pages = walk_links(running.client, f"/v1/connectors/{connector['_id']}/licenses")
        empty += not licenses
        assert pages == -(-len(licenses) // 3)
        seen += licenses
    assert empty >= 1, "at least one connector has no licenses (204)"
    assert sorted(lic["_id"] for lic in seen) == sorted(lic["_id"] for lic in all_licenses)
    assert any("_connectorId" not in lic for lic in seen), "some licenses omit _connectorId"
    required = {"_id", "created", "expires", "trialEndDate", "sandbox", "opts", "user", "type", "_editionId"}
    assert all(required <= set(lic) for lic in seen)


def test_given_host_header_when_paging_then_link_uses_it(make_sandbox: SandboxFactory) -> None:
    running = make_sandbox(integrator_page_size=1)
    reply = running.client.get("integrator", "/v1/flows", headers={"Host": "sandbox.test:8080"})
    assert reply.headers["link"].startswith("<http://sandbox.test:8080/integrator/v1/flows?")


def test_given_install_base_when_listing_then_installed_licenses_appear(sandbox: Running) -> None:
    connectors, _ = walk_links(sandbox.client, "/v1/connectors")
    for connector in connectors:
        licenses, _ = walk_links(sandbox.client, f"/v1/connectors/{connector['_id']}/licenses")
        installs, _ = walk_links(sandbox.client, f"/v1/connectors/{connector['_id']}/installBase")
        assert {i["_integrationId"] for i in installs} == {
            lic["_integrationId"] for lic in licenses if "_integrationId" in lic
        }
        assert all(
            {"_id", "email", "name", "version", "sandbox", "updateInProgress"} <= set(i) for i in installs
        )
    assert sandbox.client.get("integrator", "/v1/connectors/nope/licenses").status == 404


def test_given_the_seed_when_joining_by_email_then_matches_and_every_mismatch_case_exist(
    sandbox: Running,
) -> None:
    now = datetime.now(UTC)
    licenses = sandbox.client.control("GET", "objects/integrator/licenses")["data"]
    customers = walk_stripe(sandbox.client, "/v1/customers")
    subscriptions = walk_stripe(sandbox.client, "/v1/subscriptions", {"status": "active"})
    orb_customers = sandbox.client.control("GET", "objects/orb/customers")["data"]
    orb_active = [
        s
        for s in sandbox.client.control("GET", "objects/orb/subscriptions")["data"]
        if s["status"] == "active"
    ]
    email_of = {c["id"]: c["email"] for c in customers}
    active_emails = {email_of[s["customer"]] for s in subscriptions} | {
        s["customer"]["email"] for s in orb_active
    }
    license_emails = {lic["user"]["email"] for lic in licenses}
    installed_emails = {lic["user"]["email"] for lic in licenses if "_integrationId" in lic}
    assert license_emails & {c["email"] for c in customers}
    assert license_emails & {c["email"] for c in orb_customers}

    def expires(lic: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(lic["expires"])

    active_licenses = [lic for lic in licenses if expires(lic) > now]
    assert any(lic["user"]["email"] not in active_emails for lic in active_licenses)
    assert active_emails - installed_emails
    assert any(now < expires(lic) < now + timedelta(days=30) for lic in licenses)


def test_given_many_jobs_when_listing_then_at_most_1001_newest_first_without_link(
    make_sandbox: SandboxFactory,
) -> None:
    running = make_sandbox(scale=20, scale_for={"integrator.jobs": 2300})
    first = running.client.get("integrator", "/v1/jobs", {"createdAt_lte": "2100-01-01T00:00:00.000Z"})
    assert first.status == 200
    assert "link" not in first.headers
    jobs = first.json
    assert len(jobs) == 1001
    stamps = [job["createdAt"] for job in jobs]
    assert stamps == sorted(stamps, reverse=True)
    seen = {job["_id"] for job in jobs}
    while len(jobs) == 1001:
        # Page backwards: createdAt_lte = the oldest createdAt seen (inclusive, so drop repeats).
        reply = running.client.get("integrator", "/v1/jobs", {"createdAt_lte": jobs[-1]["createdAt"]})
        jobs = reply.json if reply.status == 200 else []
        new = [job for job in jobs if job["_id"] not in seen]
        if not new:
            break
        seen |= {job["_id"] for job in new}
    assert len(seen) == 2300
    since = stamps[10]
    recent = running.client.get("integrator", "/v1/jobs", {"createdAt_gte": since}).json
    assert {job["_id"] for job in recent} == {job["_id"] for job in first.json if job["createdAt"] >= since}


def test_given_a_parent_jobs_query_without_a_filter_when_listing_then_400_invalid_query(
    make_sandbox: SandboxFactory,
) -> None:
    running = make_sandbox(scale=5)
    for query in ({}, {"status": "failed"}, {"type": "flow"}):
        reply = running.client.get("integrator", "/v1/jobs", query)
        assert reply.status == 400
        error = reply.json["errors"][0]
        assert error["code"] == "invalid_query"
        assert error["message"].startswith("For parent jobs, query parameters must contain either")
    flow_id = running.client.control("GET", "objects/integrator/jobs")["data"][0]["_flowId"]
    assert running.client.get("integrator", "/v1/jobs", {"_flowId": flow_id}).status == 200


def test_given_jobs_created_with_millisecond_times_when_listing_then_newest_first_and_lte_inclusive(
    make_sandbox: SandboxFactory,
) -> None:
    running = make_sandbox(scale=5, scale_for={"integrator.jobs": 0})
    stamps = ["2024-03-01T00:00:00.900Z", "2024-03-01T00:00:00.100Z", "2024-03-01T00:00:00.500Z"]
    for stamp in [*stamps, stamps[1]]:
        running.client.control("POST", "integrator/jobs", {"createdAt": stamp})
    everything = {"createdAt_gte": "2000-01-01T00:00:00.000Z"}
    listed = [job["createdAt"] for job in running.client.get("integrator", "/v1/jobs", everything).json]
    assert listed == sorted([*stamps, stamps[1]], reverse=True)
    upto = running.client.get("integrator", "/v1/jobs", {"createdAt_lte": stamps[1]}).json
    assert [job["createdAt"] for job in upto] == [stamps[1], stamps[1]]

"""Every request the client can build is declared in Zoom's OpenAPI document."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from service import actions
from service.devtools.fakezoom.schema import validate
from service.zoom.endpoints import (
    DEFAULT_PAGE_SIZE,
    ENDPOINTS,
    MEETING_RECORDINGS,
    RECORDING_TOKEN_QUERY,
    REGISTRANT_STATUSES,
    REPORT_INCLUDE_FIELDS,
    REPORT_MEETING_PARTICIPANTS,
    REPORT_WEBINAR_PARTICIPANTS,
    UPDATE_MEETING,
    UPDATE_WEBINAR_REGISTRANT_STATUS,
    WEBINAR_REGISTRANTS,
    WRITE_ENDPOINTS,
    Endpoint,
    build_request,
)
from service.zoom.ratelimit import RateLimitCategory

SHARED_SPEC = Path("/work/shared/zoom-openapi/ZoomMeetingAPISpec.2023-10.json")
# The same document cut to the past/report paths, shipped with the fake Zoom in the repo.
REPO_SPEC = (
    Path(__file__).parents[2]
    / "service/devtools/fakezoom/ZoomMeetingAPISpec.2023-10.subset-past-report-webinars.json"
)
IDS: tuple[int | str, ...] = (
    93398114182,
    "93398114182",
    "Bznyg8KZTdCVbQxvS/oZ7w==",
    "/ajXp112QmuoKj4854875==",
    "abc//def+g==",
)


@cache
def spec() -> dict[str, Any]:
    for path in (SHARED_SPEC, REPO_SPEC):
        if path.exists():
            loaded: dict[str, Any] = json.loads(path.read_text())
            return loaded
    pytest.skip("Zoom's OpenAPI document is not available")


def operation(endpoint: Endpoint) -> dict[str, Any]:
    paths = spec()["paths"]
    assert endpoint.template in paths, f"{endpoint.template} is not in the spec"
    assert "get" in paths[endpoint.template]
    found: dict[str, Any] = paths[endpoint.template]["get"]
    return found


def parameters(endpoint: Endpoint, where: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation(endpoint)["parameters"] if p["in"] == where}


def template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^}]+\}", template)
    return re.compile("^" + "([^/]+)".join(re.escape(p) for p in parts) + "$")


#: Query values a request may carry, where the spec restricts them (default: an occurrence id).
QUERY_VALUES = {"status": "denied", "include_fields": "registrant_id"}


def all_requests(endpoint: Endpoint) -> list[Any]:
    query = {name: QUERY_VALUES.get(name, "1648194360000") for name in endpoint.query}
    built = []
    for ident in IDS:
        if endpoint.numeric_id_only and not str(ident).isdigit():
            with pytest.raises(ValueError, match="numeric ID"):
                build_request(endpoint, ident)
            continue
        built.append(build_request(endpoint, ident))
        built.append(build_request(endpoint, ident, query=query))
        if endpoint.paginated:
            built.append(
                build_request(
                    endpoint, ident, query=query, page_size=DEFAULT_PAGE_SIZE, page_token="tok"
                )
            )
    return built


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_every_buildable_request_is_declared(endpoint: Endpoint) -> None:
    declared_path = parameters(endpoint, "path")
    declared_query = parameters(endpoint, "query")
    assert set(declared_path) == {endpoint.id_param}
    pattern = template_regex(endpoint.template)
    for request in all_requests(endpoint):
        match = pattern.match(request.path)
        assert match, f"{request.path} does not fit {endpoint.template}"
        assert "/" not in match.group(1)
        assert set(request.params) <= set(declared_query), request.params
        for name, value in request.params.items():
            enum = declared_query[name]["schema"].get("enum")
            assert enum is None or value in enum, (name, value, enum)
        if "page_size" in request.params:
            maximum = declared_query["page_size"]["schema"]["maximum"]
            assert int(request.params["page_size"]) <= maximum


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_declared_query_covers_the_endpoint(endpoint: Endpoint) -> None:
    assert set(endpoint.all_query) <= set(parameters(endpoint, "query"))


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_numeric_only_matches_the_spec(endpoint: Endpoint) -> None:
    schema = parameters(endpoint, "path")[endpoint.id_param]["schema"]
    assert endpoint.numeric_id_only == (schema.get("type") == "integer")


#: Where the 2023 spec's classic scopes do not serve a Server-to-Server app (see endpoints.py):
#: endpoint -> (what the spec declares, what the endpoint names instead).
SCOPE_CORRECTIONS = {
    MEETING_RECORDINGS.name: (
        {"recording:read", "phone_recording:read:admin"},
        {"recording:read:admin", "recording:read"},
    )
}
#: The granular scope family of a classic one, where Zoom renamed it.
GRANULAR_FAMILY = {"recording": "cloud_recording"}


def declared_scopes(endpoint: Endpoint) -> set[str]:
    """The spec's classic scopes, as corrected by SCOPE_CORRECTIONS (checked there)."""
    security = operation(endpoint)["security"]
    declared = {scope for entry in security for scope in entry.get("openapi_oauth", [])}
    if endpoint.name in SCOPE_CORRECTIONS:
        in_spec, instead = SCOPE_CORRECTIONS[endpoint.name]
        assert declared == in_spec, "the spec changed: review the correction"
        assert declared & instead, "a correction keeps the spec's own scope"
        return instead
    return declared


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_classic_scopes_match_the_spec(endpoint: Endpoint) -> None:
    assert set(endpoint.scopes) == declared_scopes(endpoint)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_rate_limit_label_matches_the_spec(endpoint: Endpoint) -> None:
    label = re.search(r"Rate Limit Label[^`]*`([^`]+)`", operation(endpoint)["description"])
    assert label is not None
    assert RateLimitCategory.parse(label.group(1)) is endpoint.rate_limit


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_records_key_and_pagination_match_the_response_schema(endpoint: Endpoint) -> None:
    schema = operation(endpoint)["responses"]["200"]["content"]["application/json"]["schema"]
    properties = schema["properties"]
    if endpoint.records_key is not None:
        assert properties[endpoint.records_key]["type"] == "array"
    assert ("next_page_token" in properties) == endpoint.paginated


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_granular_scopes_match_the_spec_where_it_lists_them(endpoint: Endpoint) -> None:
    extensions = operation(endpoint).get("extensions", {})
    macro = set(extensions.get("x-macro-scopes", endpoint.scopes))
    if endpoint.name in SCOPE_CORRECTIONS:
        assert macro == SCOPE_CORRECTIONS[endpoint.name][0]
    else:
        assert set(endpoint.scopes) == macro
    declared = extensions.get("x-granular-scopes")
    if declared is None:
        # This 2023 copy lists granular scopes for webinars only (see endpoints.py).
        assert endpoint.template.startswith(("/past_meetings", "/report/", "/meetings/"))
        return
    assert set(endpoint.granular_scopes) <= set(declared)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_granular_scopes_are_admin_level_of_the_right_family(endpoint: Endpoint) -> None:
    family = endpoint.scopes[0].split(":")[0]
    family = GRANULAR_FAMILY.get(family, family)
    for scope in endpoint.granular_scopes:
        resource, action, _object, level = scope.split(":")
        assert (resource, action, level) == (family, "read", "admin")


def test_the_query_values_the_jobs_send_are_the_spec_enums() -> None:
    status = parameters(WEBINAR_REGISTRANTS, "query")["status"]["schema"]
    assert set(REGISTRANT_STATUSES) == set(status["enum"])
    for endpoint in (REPORT_WEBINAR_PARTICIPANTS, REPORT_MEETING_PARTICIPANTS):
        for name, value in REPORT_INCLUDE_FIELDS.items():
            assert value in parameters(endpoint, "query")[name]["schema"]["enum"]
    recordings = parameters(MEETING_RECORDINGS, "query")
    assert "download_access_token" in recordings["include_fields"]["description"]
    ttl = recordings["ttl"]["schema"]
    assert ttl["minimum"] <= int(RECORDING_TOKEN_QUERY["ttl"]) <= ttl["maximum"]


def test_paths_decode_back_to_the_id() -> None:
    request = build_request(ENDPOINTS[0], "/ajXp112QmuoKj4854875==")
    segment = request.path.split("/")[2]
    assert unquote(unquote(segment)) == "/ajXp112QmuoKj4854875=="


def test_misuse_is_refused() -> None:
    participants = ENDPOINTS[0]
    with pytest.raises(ValueError, match="no query parameter"):
        build_request(participants, 1, query={"type": "live"})
    with pytest.raises(ValueError, match="page_size"):
        build_request(participants, 1, page_size=301)
    qa = next(e for e in ENDPOINTS if not e.paginated)
    with pytest.raises(ValueError, match="not paginated"):
        build_request(qa, 1, page_size=30)


WRITES = {UPDATE_WEBINAR_REGISTRANT_STATUS.name: "put", UPDATE_MEETING.name: "patch"}


@pytest.mark.parametrize("endpoint", WRITE_ENDPOINTS, ids=lambda e: e.name)
def test_write_endpoints_match_the_spec(endpoint: Endpoint) -> None:
    if not SHARED_SPEC.exists():
        pytest.skip("the shared OpenAPI document is not available")
    found = spec()["paths"][endpoint.template][WRITES[endpoint.name]]
    declared = {p["name"]: p for p in found["parameters"]}
    assert declared[endpoint.id_param]["schema"]["type"] == "integer"
    assert endpoint.numeric_id_only
    assert set(endpoint.query) == {n for n, p in declared.items() if p["in"] == "query"}
    oauth = {scope for entry in found["security"] for scope in entry.get("openapi_oauth", [])}
    assert set(endpoint.scopes) == oauth
    label = re.search(r"Rate Limit Label[^`]*`([^`]+)`", found["description"])
    assert label is not None and RateLimitCategory.parse(label.group(1)) is endpoint.rate_limit
    assert "204" in found["responses"]


def test_planned_action_bodies_validate_against_the_spec() -> None:
    if not SHARED_SPEC.exists():
        pytest.skip("the shared OpenAPI document is not available")
    rules = actions.Actions(
        registrants=actions.RegistrantRule(("example.com",), (), actions.Otherwise.DENY),
        meeting_host=actions.MeetingHostRule("events@example.com"),
    )
    registrant = {"id": "r1", "email": "a@example.com", "status": "pending"}
    planned = [
        *actions.plan(
            rules, actions.REGISTRATION_CREATED, {"object": {"id": 9, "registrant": registrant}}
        ),
        *actions.plan(
            rules,
            actions.REGISTRATION_CREATED,
            {"object": {"id": 9, "registrant": {**registrant, "email": "b@x.example"}}},
        ),
        *actions.plan(rules, actions.MEETING_CREATED, {"object": {"id": 8, "host_id": "h"}}),
    ]
    assert len(planned) == 3
    for step in planned:
        template = (
            "/webinars/{webinarId}/registrants/status"
            if "registrants" in step.path
            else "/meetings/{meetingId}"
        )
        operation_ = spec()["paths"][template][step.method.lower()]
        schema = operation_["requestBody"]["content"]["application/json"]["schema"]
        assert validate(schema, dict(step.body)) == [], step
        assert template_regex(template).match(step.path)

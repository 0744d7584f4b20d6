"""The OpenAPI 3.1 document (``GET /api/v1/openapi.json``) is generated from the routes
and the wire-format schemas, describes every route of the API, and a running node
answers as it says: schemathesis sends generated requests to a real ``papi serve``
process (a bounded number of examples, derandomised) and checks every answer."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import negative_data_rejection
from starlette.routing import Route

from federation import schema as wire
from node.api.openapi import SERVER_FIELD_SCHEMAS, build, component_name, is_api_route
from node.app import build_routes
from node.services.blobtypes import media_types
from node.services.objects import COLLECTIONS, SERVER_FIELDS
from tests.conftest import InProcessNode, NodeFactory

#: Generated requests per operation (positive and negative data each).
EXAMPLES = 25


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref":
                yield item
            else:
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _without_refs(value: Any) -> Any:
    """``value`` without ``$ref`` (nor ``$id``, ``$schema``): what copying keeps as is."""
    if isinstance(value, dict):
        return {
            key: _without_refs(item)
            for key, item in value.items()
            if key not in ("$ref", "$id", "$schema")
        }
    if isinstance(value, list):
        return [_without_refs(item) for item in value]
    return value


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


async def test_the_document_is_served_and_lists_every_route_of_the_api(
    papi: InProcessNode,
) -> None:
    response = await papi.client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert document == json.loads(json.dumps(build(build_routes())))
    served = {(path, method) for path, item in document["paths"].items() for method in item}
    expected = set()
    for route in build_routes():
        if not is_api_route(route):
            continue
        assert isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}:
            template = route.path_format
            if "{collection}" in template:
                for collection in COLLECTIONS:
                    expected.add((template.replace("{collection}", collection), method.lower()))
            else:
                expected.add((template, method.lower()))
    assert served == expected
    assert ("/api/v1/openapi.json", "get") in served
    # Calendars and feeds are, as their handlers declare; no web page is.
    for path in ("/events.ics", "/network/feed.atom", "/o/{origin}/event/{oid}.ics"):
        assert (path, "get") in served
    assert not any(path.startswith(("/admin", "/search", "/lieux")) for path, _ in served)
    assert ("/o/{origin}/{kind}/{oid}", "get") not in served
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_every_reference_resolves_and_bodies_are_the_wire_schemas() -> None:
    document = build(build_routes())
    # Valid against the OpenAPI 3.1 meta-schema (schemathesis's copy of it).
    schemathesis.openapi.from_dict(document).validate()
    for ref in _refs(document):
        assert isinstance(_resolve(document, ref), dict), ref
    schemas = document["components"]["schemas"]
    # The bodies are the node's own schemas, copied (not written twice).
    events = document["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]
    assert events["application/json"]["schema"] == {"$ref": "#/components/schemas/payload-event"}
    for schema_id, original in wire.documents().items():
        name = component_name(schema_id)
        if name not in schemas:
            continue
        assert _without_refs(schemas[name]) == _without_refs(original), name
        assert list(_refs(schemas[name])) == [
            f"#/components/schemas/{component_name(uri or schema_id)}{fragment}"
            for uri, _, fragment in (ref.partition("#") for ref in _refs(original))
        ]
    sync = document["paths"]["/federation/v1/sync"]["post"]
    assert sync["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/sync-request"
    )
    # An object as answered: the payload's members and the server's.
    event = schemas["object-event"]
    payload = wire.document("urn:papi:payload/event")
    assert set(event["properties"]) == set(payload["properties"]) | set(SERVER_FIELDS)
    assert set(SERVER_FIELD_SCHEMAS) == set(SERVER_FIELDS)
    upload = document["paths"]["/api/v1/blobs"]["post"]
    assert set(upload["requestBody"]["content"]) == set(media_types())
    assert upload["security"] == [{"bearer": []}]
    assert document["paths"]["/api/v1/skills"]["get"]["security"] == []


async def test_the_reference_page_renders_every_operation_without_a_script(
    papi: InProcessNode,
) -> None:
    document = (await papi.client.get("/api/v1/openapi.json")).json()
    page = await papi.client.get("/api", headers={"accept-language": "fr"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "Référence de l'API HTTP" in html
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert f"<code>{method.upper()} {path}</code>" in html
            assert f'id="{operation["operationId"]}"' in html
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in html
    assert '<a href="#schema-payload-event">payload-event</a>' in html
    # Nothing runs and nothing comes from elsewhere.
    assert "<script" not in html.replace('<script type="application/ld+json">', "")
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_a_route_without_a_description_is_refused() -> None:
    async def undescribed(request: Any) -> Any:
        raise AssertionError("never called")

    with pytest.raises(LookupError, match="declares no Operation"):
        build([Route("/api/v1/x", undescribed, methods=["GET"], name="x")])


# -- schemathesis against a running node -------------------------------------------------

#: What a schema-valid request may be answered besides success: the API checks in code
#: what no schema can say ('end' after 'start', a commune it knows, the sessions of a
#: series), and answers 422 then (docs/api.md 3); 401, 404, 409 and 429 as schemathesis
#: expects. A 400 to a valid request is a failure (the document says too little).
VALID_REQUEST_STATUSES = ["2XX", "3XX", "401", "403", "404", "409", "422", "429"]


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members:
            archive.writestr(name, data, zipfile.ZIP_STORED if name == "mimetype" else 8)
    return out.getvalue()


def _bytes_of(media_type: str) -> st.SearchStrategy[bytes]:
    """Bytes that are what ``media_type`` says (the node sniffs uploads: section 8)."""
    tail = st.binary(max_size=256)  # the magic bytes make every body non-empty
    magic = {
        "application/pdf": b"%PDF-1.7\n",
        "image/png": b"\x89PNG\r\n\x1a\n",
        "image/jpeg": b"\xff\xd8\xff\xe0",
        "image/gif": b"GIF89a",
    }
    if media_type in magic:
        return tail.map(lambda rest: magic[media_type] + rest)
    if media_type == "image/webp":
        return tail.map(lambda rest: b"RIFF" + len(rest).to_bytes(4, "little") + b"WEBP" + rest)
    if media_type.startswith("text/"):
        text = st.text(
            st.characters(exclude_characters="\x00", codec="utf-8"), min_size=1, max_size=200
        )
        return text.map(str.encode)
    if "opendocument" in media_type:
        return tail.map(
            lambda rest: _zip([("mimetype", media_type.encode()), ("content.xml", rest)])
        )
    return tail.map(lambda rest: _zip([("fiche.txt", rest)]))  # members of allowed types


def _run(operation: Any, mode: schemathesis.GenerationMode) -> str | None:
    """Send ``EXAMPLES`` generated requests of ``operation``; what failed, if anything."""
    # Query parameters are read leniently, on purpose (web forms send every field): an
    # empty one is absent, 'past' is false unless 1/true/yes. So a request the schema
    # calls invalid may rightly be answered 200; bodies are read strictly.
    lenient = [] if "requestBody" in operation.definition.raw else [negative_data_rejection]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(excluded_checks=lenient)

    try:
        check()
    except Unsatisfiable:
        # Nothing to make invalid: no parameter and no body (GET /healthz).
        assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
    except (FailureGroup, AssertionError) as failure:
        return str(failure)
    return None


@pytest.mark.e2e
def test_a_running_node_answers_as_its_document_says(node_factory: NodeFactory) -> None:
    """Every operation, with generated valid and invalid requests: never a 5xx; every
    status, content type, header and body as documented; valid requests accepted,
    invalid ones refused; writes refused without the token (schemathesis's checks)."""
    node = node_factory("EPN Brest Bellevue", rate_limit_per_minute=0)
    # Some data to read: a skill, a recurring event, a piece of equipment.
    for collection, body in [
        ("skills", {"title": "Courriels"}),
        ("equipment", {"title": "Vidéoprojecteur", "quantity": 2}),
        (
            "events",
            {
                "title": "Atelier tablette",
                "start": "2026-01-06T14:00:00+01:00",
                "end": "2026-01-06T16:00:00+01:00",
                "recurrence": {"rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=10"},
            },
        ),
    ]:
        answer = httpx.post(f"{node.url}/api/v1/{collection}", json=body, headers=node.auth)
        assert answer.status_code == 201, answer.text
    document = httpx.get(node.url + "/api/v1/openapi.json").json()
    for media_type in media_types():
        schemathesis.openapi.media_type(media_type, _bytes_of(media_type))
    config = schemathesis.Config.from_dict(
        {
            "base-url": node.url,
            "auth": {"openapi": {"bearer": {"bearer": node.token}}},
            "checks": {"positive_data_acceptance": {"expected-statuses": VALID_REQUEST_STATUSES}},
        }
    )
    loaded = schemathesis.openapi.from_dict(document, config=config)
    failures: list[str] = []
    operations = [result.ok() for result in loaded.get_all_operations()]
    assert len(operations) == sum(len(item) for item in document["paths"].values())
    for operation in operations:
        for mode in schemathesis.GenerationMode:
            failure = _run(operation, mode)
            if failure is not None:
                failures.append(f"{operation.label} ({mode.value}): {failure}")
    assert not failures, "\n\n".join(failures)

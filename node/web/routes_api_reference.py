"""``/api``: the OpenAPI document (``/api/v1/openapi.json``) rendered for people, every
operation with its parameters, body and answers, and the schemas they name. The page is
built from the same document, never written apart; no script, nothing from elsewhere."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..api.openapi import app_document
from .render import render

_COMPONENTS = "#/components/schemas/"


def schema_names(schema: Any) -> list[str]:
    """The components a schema refers to, in order, each once (links of the page)."""
    found: list[str] = []
    stack = [schema]
    while stack:
        value = stack.pop(0)
        if isinstance(value, dict):
            ref = value.get("$ref")
            if isinstance(ref, str) and ref.startswith(_COMPONENTS):
                name = ref.removeprefix(_COMPONENTS).split("/")[0]
                if name not in found:
                    found.append(name)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody", {}).get("content", {})
            rows.append(
                {
                    "anchor": operation["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "summary": operation["summary"],
                    "tag": operation["tags"][0],
                    "token": bool(operation["security"]),
                    "parameters": [
                        {**param, "text": json.dumps(param["schema"], ensure_ascii=False)}
                        for param in operation["parameters"]
                    ],
                    "body": [
                        {"media_type": media_type, "names": schema_names(content)}
                        for media_type, content in body.items()
                    ],
                    "answers": [
                        {
                            "status": status,
                            "description": answer["description"],
                            "names": schema_names(answer.get("content", {})),
                            "media_types": list(answer.get("content", {})),
                        }
                        for status, answer in operation["responses"].items()
                    ],
                }
            )
    return rows


async def api_reference(request: Request) -> Response:
    document = app_document(request)
    schemas = document["components"]["schemas"]
    return await render(
        request,
        "api_reference.html",
        {
            "info": document["info"],
            "version": document["openapi"],
            "tags": document["tags"],
            "operations": _operations(document),
            "schemas": [
                {"name": name, "text": json.dumps(value, ensure_ascii=False, indent=2)}
                for name, value in schemas.items()
            ],
        },
    )


def routes() -> list[Route]:
    return [Route("/api", api_reference, methods=["GET"], name="api_reference")]

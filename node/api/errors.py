"""JSON errors: ``{"error": {"code", "message"}}`` with a 4xx/5xx status, everywhere."""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from federation.errors import SchemaError


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def invalid(error: SchemaError) -> ApiError:
    """The ``422`` of a body that breaks a rule of its schema: ``field``, and as data the
    rule (``keyword``) and its value (``limit``) when known (docs/api.md section 3)."""
    extra: dict[str, Any] = {"field": error.field}
    if error.keyword:
        extra["keyword"] = error.keyword
    if error.limit is not None:
        extra["limit"] = error.limit
    return ApiError(422, "invalid", error.message, **extra)


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message, **extra}
    return JSONResponse({"error": body}, status_code=status)


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, **exc.extra)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


async def read_json(request: Request, max_bytes: int) -> Any:
    """Read a JSON body: 413 over ``max_bytes``, 400 if it is not JSON."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ApiError(413, "too_large", f"request body is over {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ApiError(413, "too_large", f"request body is over {max_bytes} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        raise ApiError(400, "malformed_json", "the request body is empty; send a JSON object")
    try:
        document = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ApiError(400, "malformed_json", "the body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    if _has_lone_surrogate(document):
        raise ApiError(
            400, "malformed_json", "the body contains an unpaired surrogate (\\ud800-\\udfff)"
        )
    return document


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259) and have no canonical form (RFC 8785).
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of the range of a double")
    return value


def _has_lone_surrogate(document: Any) -> bool:
    """True if a string holds an unpaired ``\\udXXX`` escape: not I-JSON, not signable."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False

"""The node's own log lines reach the operator, and a client that hangs up mid-upload is
not an error with tracebacks."""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from node.logging_setup import LOGGERS, configure_logging
from tests.conftest import InProcessNode, NodeFactory, free_port, wait_until


@pytest.fixture
def restore_loggers() -> Iterator[None]:
    saved = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).level)
        for name in LOGGERS
    }
    try:
        yield
    finally:
        for name, (handlers, level) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.setLevel(level)


@pytest.mark.usefixtures("restore_loggers")
def test_node_and_federation_records_are_written_once_at_the_level() -> None:
    stream = io.StringIO()
    configure_logging("info", stream=stream)
    configure_logging("info", stream=stream)  # again: replaced, not doubled
    logging.getLogger("node.services.sync").info("sync with %s failed", "http://x")
    logging.getLogger("federation.client").debug("not at info")
    logging.getLogger("node.jobs").warning("careful")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert "INFO node.services.sync: sync with http://x failed" in lines[0]
    assert "WARNING node.jobs: careful" in lines[1]


@pytest.mark.usefixtures("restore_loggers")
def test_json_lines() -> None:
    stream = io.StringIO()
    configure_logging("warning", json=True, stream=stream)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("node.app").exception("unexpected")
    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "error" and record["logger"] == "node.app"
    assert record["message"] == "unexpected" and "ValueError: boom" in record["exception"]


def test_a_failing_sync_is_in_the_log_of_papi_serve(node_factory: NodeFactory) -> None:
    node = node_factory("a", start=False, log_level="info")
    dead = f"http://127.0.0.1:{free_port()}"
    node.papi("peer", "add", dead)
    node.start()
    wait_until(lambda: f"sync with {dead} failed (unreachable)" in node.log_path.read_text())


async def _disconnecting_upload(app: Any, path: str, token: str) -> list[dict[str, Any]]:
    """Call the app as a server would for a client that sends part of its body and goes."""
    messages = [
        {"type": "http.request", "body": b'{"title": "Tab', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 40000), "server": ("testserver", 80),
        "headers": [
            (b"host", b"testserver"), (b"content-type", b"application/json"),
            (b"content-length", b"1000"), (b"authorization", f"Bearer {token}".encode()),
        ],
    }  # fmt: skip
    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize("path", ["/api/v1/skills", "/federation/v1/push"])
async def test_a_client_that_hangs_up_mid_upload_is_not_an_error(
    papi: InProcessNode, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    caplog.set_level(logging.DEBUG)
    await _disconnecting_upload(papi.app, path, papi.token)  # raises nothing
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("client disconnected" in r.getMessage() for r in caplog.records)


def test_papi_serve_logs_no_traceback_for_a_client_that_hangs_up(
    node_factory: NodeFactory,
) -> None:
    node = node_factory("a", log_level="debug")
    with socket.create_connection(("127.0.0.1", node.port)) as sock:
        sock.sendall(
            b"POST /api/v1/skills HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 100000\r\nauthorization: Bearer " + node.token.encode() + b"\r\n"
            b'\r\n{"title": "Tab'
        )
    wait_until(lambda: "client disconnected during POST" in node.log_path.read_text())
    assert "Traceback" not in node.log_path.read_text()


def test_json_log_of_papi_serve_is_json_lines_without_secrets(node_factory: NodeFactory) -> None:
    """log_format = json: every line of the process's output is one JSON object (the
    node's, uvicorn's and the start-up lines), and no secret setting appears in any."""
    secrets = {"metrics_token": "metrics-t0ken-never-logged", "smtp_password": "pw-never-logged"}
    node = node_factory(
        "a",
        start=False,
        log_level="debug",
        log_format="json",
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        smtp_user="papi@exemple.fr",
        **secrets,
    )
    dead = f"http://127.0.0.1:{free_port()}"
    node.papi("peer", "add", dead)
    node.start()
    wait_until(lambda: f"sync with {dead} failed (unreachable)" in node.log_path.read_text())
    assert httpx.get(f"{node.url}/metrics").status_code == 401
    bearer = {"authorization": f"Bearer {secrets['metrics_token']}"}
    assert httpx.get(f"{node.url}/metrics", headers=bearer).status_code == 200
    node.stop()
    records = [json.loads(line) for line in node.log_path.read_text().splitlines() if line]
    loggers = {record["logger"] for record in records}
    assert {"node.cli", "node.services.sync"} <= loggers and any(
        name.startswith("uvicorn") for name in loggers
    )
    assert any(record["message"].startswith("papi-node ed25519:") for record in records)
    text = node.log_path.read_text()
    assert all(secret not in text for secret in secrets.values())

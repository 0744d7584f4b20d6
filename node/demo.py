"""``papi demo``: five real nodes on 127.0.0.1, wired in a chain so that data must be
relayed (Brest - Plougastel - Landerneau - Crozon - Ouessant), seeded through their API
(places, offers, and fiches with a PDF each), each with an administrator account whose
login is printed, so that a visitor can try /admin.

The nodes run in their own session: a Ctrl-C in the terminal reaches the demo alone,
which stops each node with one SIGTERM (a node that gets a second signal while it shuts
down is forced out, with a traceback in its log). A closed network: the first node is
the founder and vouches for the others (docs/protocol.md 16)."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from .demo_data import demo_places
from .demo_resources import demo_resources
from .i18n import locale_language, translations

#: The administrator account of every demo node (its password is new at each start).
DEMO_ADMIN = "admin@demo.papi.test"


def _(message: str, /, **values: Any) -> str:
    text = translations(locale_language()).gettext(message)
    return text % values if values else text


def _fail(message: str) -> SystemExit:
    return SystemExit(_("papi: error: %(message)s", message=message))


def _papi(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    if result.returncode != 0:
        raise _fail(
            _(
                "demo: 'papi %(command)s' failed: %(error)s",
                command=args[0],
                error=result.stderr.strip(),
            )
        )
    return result.stdout


def _node_id(init_output: str) -> str:
    # The line that says it is in the locale's language: read the id itself.
    found = re.search(r"ed25519:[A-Za-z0-9_-]{43}", init_output)
    if found:
        return found.group(0)
    raise SystemExit("papi: error: demo: 'papi init' did not say the node id")


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise _fail(_("demo node %(url)s exited; see %(log)s", url=url, log=log))
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/api/v1/node", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise _fail(_("demo node %(url)s did not start; see %(log)s", url=url, log=log))


def run_demo(base_dir: Path, base_port: int = 8101) -> None:
    places = demo_places()
    for port in range(base_port, base_port + len(places)):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise _fail(
                    _(
                        "port %(port)s is already in use; the demo uses ports "
                        "%(first)s-%(last)s: choose others with --port",
                        port=port,
                        first=base_port,
                        last=base_port + len(places) - 1,
                    )
                ) from None
    base_dir = base_dir / "demo"
    processes: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PAPI_SYNC_INTERVAL_SECONDS": "5", "PAPI_LOG_LEVEL": "warning"}

    def stop(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    # Ctrl-C stops the demo even when a shell started it in the background, which makes
    # Python ignore SIGINT (then nothing would stop the nodes).
    signal.signal(signal.SIGINT, stop)
    try:
        urls: list[str] = []
        founder_dir = base_dir / "node1"
        for index, place in enumerate(places):
            port = base_port + index
            url = f"http://127.0.0.1:{port}"
            data_dir = base_dir / f"node{index + 1}"
            fresh = not (data_dir / "node.key").exists()
            out = _papi("init", "--data-dir", str(data_dir), "--name", place["name"],
                        "--commune", place["commune"], "--url", url,
                        "--no-recovery-key")  # fmt: skip
            origin = _node_id(out)
            if index == 0:
                # A closed network (docs/protocol.md 16): the first place is its founder
                # and vouches for the others as they join.
                env["PAPI_FOUNDERS"] = origin
            elif fresh:
                _papi("vouch", origin, "--data-dir", str(founder_dir),
                      "--title", "Membre du réseau de démonstration")  # fmt: skip
            log = base_dir / f"node{index + 1}.log"
            # A new password at each start: the one printed below is the one that works.
            password = secrets.token_urlsafe(9)
            _papi(
                "user",
                "add",
                DEMO_ADMIN,
                "--data-dir",
                str(data_dir),
                env={"PAPI_PASSWORD": password},
            )
            with log.open("ab") as handle:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "node.cli",
                        "serve",
                        "--data-dir",
                        str(data_dir),
                        "--port",
                        str(port),
                    ],
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            processes.append(process)
            _wait_ready(url, process, log)
            if fresh:
                _seed(data_dir, url, place)
                if index:
                    # Each node knows only the previous one: a chain.
                    _papi("peer", "add", urls[-1], "--data-dir", str(data_dir))
            urls.append(url)
            print(f"  {place['name']:36} {url}/", flush=True)
            print(
                "      "
                + _(
                    "administration %(url)s: %(email)s, password %(password)s",
                    url=f"{url}/admin",
                    email=DEMO_ADMIN,
                    password=password,
                ),
                flush=True,
            )
        print(_("Demo network running (each node knows only the previous one)."))
        print(_("Data and logs in %(dir)s. Ctrl-C to stop.", dir=base_dir), flush=True)
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        print(_("A demo node stopped unexpectedly; stopping the others."), file=sys.stderr)
    except KeyboardInterrupt:
        print("\n" + _("Stopping the demo nodes..."), flush=True)
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        print(_("Demo stopped."))


def _seed(data_dir: Path, url: str, place: dict[str, Any]) -> None:
    token = _papi("token", "create", "--label", "demo", "--data-dir", str(data_dir))
    headers = {"authorization": f"Bearer {token.strip().splitlines()[-1]}"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        client.put("/api/v1/place", json={**place["place"], "endpoints": [url]}).raise_for_status()
        for collection in ("skills", "equipment", "events"):
            for item in place[collection]:
                client.post(f"/api/v1/{collection}", json=item).raise_for_status()
        for payload, name, pdf in demo_resources(place["name"]):
            blob = client.post(
                "/api/v1/blobs", content=pdf, headers={"content-type": "application/pdf"}
            )
            blob.raise_for_status()
            attachment = {"name": name, "media_type": "application/pdf", **blob.json()}
            client.post(
                "/api/v1/resources", json={**payload, "attachments": [attachment]}
            ).raise_for_status()

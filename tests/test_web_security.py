"""Local security of the admin: server-side sessions (logout and a new password revoke
them, expiry is enforced by the node), the failed-login limit (counted before the
password is checked, per client address, never a lock-out from elsewhere), bounded
password checks, and private files in the data directory."""

from __future__ import annotations

import asyncio
import base64
import html
import json
import os
import stat
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from federation.timeutil import utc_now
from node.app import create_app
from node.models import AdminSession, LoginFailure
from node.settings import load_settings
from node.web import accounts
from node.web.accounts import MAX_FAILURES, MAX_FAILURES_PER_ACCOUNT, LoginAttempt, PasswordChecks
from node.web.sessions import SESSION_COOKIE, SESSION_KEY_FILE, SessionKeyError
from tests.conftest import InProcessNode, free_port, in_process_node, run_papi
from tests.test_cli import assert_clean_failure
from tests.test_web import EMAIL, PASSWORD, admin, csrf_of, make_user  # noqa: F401

# -- sessions -----------------------------------------------------------------------------


@asynccontextmanager
async def client_at(
    papi: InProcessNode, address: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser, at client address ``address``."""
    transport = httpx.ASGITransport(app=papi.app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def log_in_from(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    page = await client.get("/admin/login")
    return await client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page.text)},
    )


async def sessions(papi: InProcessNode) -> list[AdminSession]:
    with papi.node.db.activated():
        return await AdminSession.all()


async def test_logout_revokes_a_copied_cookie(admin: InProcessNode) -> None:  # noqa: F811
    copied = admin.client.cookies[SESSION_COOKIE]
    async with client_at(admin) as thief:
        thief.cookies.set(SESSION_COOKIE, copied)
        assert (await thief.get("/admin")).status_code == 200  # the copy is a valid cookie
        page = await admin.client.get("/admin")
        response = await admin.client.post("/admin/logout", data={"csrf_token": csrf_of(page.text)})
        assert response.status_code == 303
        assert await sessions(admin) == []
        thief.cookies.set(SESSION_COOKIE, copied)
        response = await thief.get("/admin")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/login")


async def test_the_cookie_names_a_session_but_holds_no_account(admin: InProcessNode) -> None:  # noqa: F811
    signed = admin.client.cookies[SESSION_COOKIE]
    data = json.loads(base64.b64decode(signed.split(".")[0] + "=="))
    assert set(data) <= {"sid", "csrf", "flash"}, data
    assert "uid" not in data and str(data["sid"]) not in {row.id for row in await sessions(admin)}


async def test_an_expired_session_is_refused_by_the_node(admin: InProcessNode) -> None:  # noqa: F811
    assert (await admin.client.get("/admin")).status_code == 200
    with admin.node.db.activated():
        await AdminSession.all().update(expires=utc_now() - timedelta(seconds=1))
    assert (await admin.client.get("/admin")).status_code == 303
    assert await sessions(admin) == []


async def test_a_new_password_revokes_every_session_of_the_account(
    admin: InProcessNode,  # noqa: F811
) -> None:
    async with client_at(admin, "10.0.0.2") as other:
        assert (await log_in_from(other, EMAIL, PASSWORD)).status_code == 303
        assert len(await sessions(admin)) == 2
        await make_user(admin, EMAIL, "un tout autre mot de passe")
        assert await sessions(admin) == []
        assert (await other.get("/admin")).status_code == 303
        assert (await admin.client.get("/admin")).status_code == 303


async def test_login_starts_a_new_session(papi: InProcessNode) -> None:
    """Session fixation: a session token planted before login is never the one used."""
    await make_user(papi)
    await papi.client.get("/admin/login")
    before = papi.client.cookies[SESSION_COOKIE]
    response = await log_in_from(papi.client, EMAIL, PASSWORD)
    assert response.status_code == 303
    assert papi.client.cookies[SESSION_COOKIE] != before
    assert len(await sessions(papi)) == 1


# -- failed logins ------------------------------------------------------------------------


@contextmanager
def counted_checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Count argon2 verifications, and the most running at once."""
    real = accounts.check_password
    lock = threading.Lock()
    counts = {"calls": 0, "running": 0, "most": 0}

    def check(password_hash: str, password: str) -> bool:
        with lock:
            counts["calls"] += 1
            counts["running"] += 1
            counts["most"] = max(counts["most"], counts["running"])
        try:
            return real(password_hash, password)
        finally:
            with lock:
                counts["running"] -= 1

    monkeypatch.setattr(accounts, "check_password", check)
    yield counts


async def test_concurrent_attempts_cannot_pass_the_limit_nor_take_the_memory(
    papi: InProcessNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_user(papi)
    page = await papi.client.get("/admin/login")
    form = {"email": EMAIL, "password": "mauvais", "csrf_token": csrf_of(page.text)}
    with counted_checks(monkeypatch) as counts:
        responses = await asyncio.gather(
            *(papi.client.post("/admin/login", data=form) for _ in range(60))
        )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [401] * MAX_FAILURES + [429] * (60 - MAX_FAILURES)
    assert counts["calls"] == MAX_FAILURES
    assert counts["most"] <= accounts.MAX_CONCURRENT_CHECKS
    with papi.node.db.activated():
        assert (
            await LoginFailure.filter(key=LoginAttempt(EMAIL, "127.0.0.1").address_key).count() == 5
        )


async def test_failures_from_another_address_never_lock_the_account_out(
    papi: InProcessNode,
) -> None:
    await make_user(papi)
    async with (
        client_at(papi, "203.0.113.66") as attacker,
        client_at(papi, "198.51.100.7") as animator,
    ):
        for _ in range(MAX_FAILURES):
            assert (await log_in_from(attacker, EMAIL, "devine")).status_code == 401
        assert (await log_in_from(attacker, EMAIL, PASSWORD)).status_code == 429
        assert (await log_in_from(animator, EMAIL, PASSWORD)).status_code == 303
        assert (await animator.get("/admin")).status_code == 200


async def test_an_account_under_attack_from_many_addresses_keeps_one_try_per_address(
    papi: InProcessNode,
) -> None:
    await make_user(papi)
    # A distributed attack: failures for the account from many addresses.
    with papi.node.db.activated():
        for number in range(MAX_FAILURES_PER_ACCOUNT):
            attempt = LoginAttempt(EMAIL, f"192.0.2.{number}")
            for key in (attempt.account_key, attempt.pair_key, attempt.address_key):
                await LoginFailure.create(key=key)
    async with (
        client_at(papi, "192.0.2.1") as attacker,
        client_at(papi, "198.51.100.7") as animator,
    ):
        # An address that already failed for this account waits for the window to end...
        assert (await log_in_from(attacker, EMAIL, PASSWORD)).status_code == 429
        # ...while another still has its try, and the right password gets in.
        assert (await log_in_from(animator, EMAIL, PASSWORD)).status_code == 303
    async with client_at(papi, "198.51.100.8") as clumsy:
        assert (await log_in_from(clumsy, EMAIL, "faute de frappe")).status_code == 401
        assert (await log_in_from(clumsy, EMAIL, PASSWORD)).status_code == 429
        # Other accounts are not under attack: the address keeps its usual tries.
        assert (await log_in_from(clumsy, "autre@exemple.fr", "x" * 8)).status_code == 401


async def test_an_ipv6_subscriber_is_one_address(papi: InProcessNode) -> None:
    await make_user(papi)
    for number in range(MAX_FAILURES):
        async with client_at(papi, f"2001:db8:1:2::{number + 1:x}") as client:
            assert (await log_in_from(client, EMAIL, "devine")).status_code == 401
    async with client_at(papi, "2001:db8:1:2:ffff::9") as same_subscriber:
        assert (await log_in_from(same_subscriber, EMAIL, PASSWORD)).status_code == 429
    async with client_at(papi, "2001:db8:1:3::1") as neighbour:
        assert (await log_in_from(neighbour, EMAIL, PASSWORD)).status_code == 303


def test_address_keys() -> None:
    assert accounts.address_key("192.0.2.7") == "192.0.2.7"
    assert accounts.address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert accounts.address_key("2001:db8::1") == "2001:db8::/64"
    assert accounts.address_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert accounts.address_key("unknown") == "unknown"


async def test_when_every_check_slot_stays_busy_the_login_waits_in_french(
    papi: InProcessNode,
) -> None:
    await make_user(papi)
    checks = PasswordChecks(slots=1, wait=0.05)
    papi.app.state.password_checks = checks
    await checks.slots.acquire()  # a long check elsewhere
    try:
        response = await log_in_from(papi.client, EMAIL, PASSWORD)
    finally:
        checks.slots.release()
    assert response.status_code == 503 and response.headers["retry-after"]
    assert "Le serveur vérifie d'autres connexions." in html.unescape(response.text)
    with papi.node.db.activated():
        assert await LoginFailure.all().count() == 0  # not counted: nothing was checked
    assert (await log_in_from(papi.client, EMAIL, PASSWORD)).status_code == 303


# -- private files ------------------------------------------------------------------------


@contextmanager
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def modes(data_dir: Path) -> dict[str, int]:
    found = {path.name: stat.S_IMODE(path.stat().st_mode) for path in data_dir.iterdir()}
    return {".": stat.S_IMODE(data_dir.stat().st_mode), **found}


def test_the_command_line_creates_private_files(tmp_path: Path) -> None:
    data_dir = tmp_path / "papi-data"
    with permissive_umask():
        run_papi("init", "--data-dir", str(data_dir))
        run_papi("token", "create", "--data-dir", str(data_dir))
    found = modes(data_dir)
    assert {"papi.toml", "papi.sqlite3", "node.key"} <= set(found)
    assert found.pop(".") == 0o700
    assert found == dict.fromkeys(found, 0o600), found


async def test_the_node_keeps_its_files_private_whatever_the_umask(tmp_path: Path) -> None:
    data_dir = tmp_path / "n"
    with permissive_umask():
        async with in_process_node(data_dir) as papi:
            await make_user(papi)
            assert (await log_in_from(papi.client, EMAIL, PASSWORD)).status_code == 303
            found = modes(data_dir)
    assert {"papi.toml", "papi.sqlite3", "papi.sqlite3-wal", SESSION_KEY_FILE} <= set(found)
    assert found.pop(".") == 0o700
    assert found == dict.fromkeys(found, 0o600), found


async def test_files_left_readable_by_an_older_version_are_made_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "n"
    async with in_process_node(data_dir):
        pass
    for name in ("papi.sqlite3", "papi.toml"):
        (data_dir / name).chmod(0o644)
    async with in_process_node(data_dir):
        assert stat.S_IMODE((data_dir / "papi.sqlite3").stat().st_mode) == 0o600
        assert stat.S_IMODE((data_dir / "papi.toml").stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
async def test_a_session_key_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    data_dir = tmp_path / "n"
    async with in_process_node(data_dir):
        pass
    key = data_dir / SESSION_KEY_FILE
    secret = key.read_bytes()
    key.chmod(mode)
    settings: Any = load_settings(data_dir, {"scheduler": False}, environ={})
    with pytest.raises(SessionKeyError) as refused:
        create_app(settings)
    assert f"chmod 600 {key}" in str(refused.value) and f"{mode:o}" in str(refused.value)
    assert key.read_bytes() == secret and stat.S_IMODE(key.stat().st_mode) == mode
    port = str(free_port())
    result = run_papi("serve", "--data-dir", str(data_dir), "--port", port, check=False)
    assert_clean_failure(result, str(key), f"chmod 600 {key}")


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/admin",
        "https://evil.example/admin",
        "/admin//evil.example",
        "/admin\\@evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "/search",
    ],
)
async def test_login_never_redirects_off_site(papi: InProcessNode, target: str) -> None:
    await make_user(papi)
    page = await papi.client.get("/admin/login", params={"next": target})
    response = await papi.client.post(
        "/admin/login",
        data={
            "email": EMAIL,
            "password": PASSWORD,
            "next": target,
            "csrf_token": csrf_of(page.text),
        },
    )
    assert response.status_code == 303 and response.headers["location"] == "/admin"

"""Accounts, roles and API tokens managed from the command line and from /admin
(issue 17): list, disable, remove, new password, roles, token list and revoke; a revoked
token is refused at once; animators are kept out of the administrators' pages."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.web.accounts import add_user
from tests.conftest import InProcessNode, in_process_node, run_papi
from tests.test_web import csrf_of, log_in, submit

PASSWORD = "mot de passe solide"
PARIS_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d CES?T")


def papi(data: Path, *args: str, password: str = PASSWORD, check: bool = True) -> str:
    result = run_papi(
        *args, "--data-dir", str(data), env={"PAPI_PASSWORD": password}, input="", check=check
    )
    return result.stdout + result.stderr


def test_accounts_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "node"
    assert "administrateur" in papi(data, "user", "add", "Chef@Exemple.fr")
    assert "animateur" in papi(data, "user", "add", "anim@exemple.fr")
    listing = papi(data, "user", "list")
    assert re.search(r"chef@exemple.fr\s+administrateur\s+actif\s+" + PARIS_TIME.pattern, listing)
    assert re.search(r"anim@exemple.fr\s+animateur\s+actif", listing)
    # Without a terminal, a change that takes something away needs --yes.
    refused = run_papi(
        "user", "disable", "anim@exemple.fr", "--data-dir", str(data), input="", check=False
    )
    assert refused.returncode == 1
    assert "demande une confirmation sur un terminal ; ajoutez --yes" in refused.stderr
    done = papi(data, "user", "disable", "anim@exemple.fr", "--yes")
    assert "anim@exemple.fr est désactivé" in done
    assert "audit: user.disable anim@exemple.fr by cli" in done
    assert re.search(r"anim@exemple.fr\s+animateur\s+désactivé", papi(data, "user", "list"))
    # The last administrator stays.
    last = papi(data, "user", "remove", "chef@exemple.fr", "--yes", check=False)
    assert "chef@exemple.fr est le dernier administrateur" in last
    assert "papi : erreur :" in last
    papi(data, "user", "role", "anim@exemple.fr", "admin")
    papi(data, "user", "enable", "anim@exemple.fr")
    assert "est supprimé" in papi(data, "user", "remove", "chef@exemple.fr", "--yes")
    assert "chef@" not in papi(data, "user", "list")
    changed = papi(data, "user", "password", "anim@exemple.fr", password="un autre mot de passe")
    assert "Nouveau mot de passe pour anim@exemple.fr" in changed
    assert "un autre mot de passe" not in changed  # never in the output, nor in the audit line
    short = papi(data, "user", "password", "anim@exemple.fr", password="court", check=False)
    assert "le mot de passe doit avoir au moins 8 caractères" in short
    unknown = papi(data, "user", "disable", "personne@exemple.fr", "--yes", check=False)
    assert "aucun compte personne@exemple.fr" in unknown


def test_tokens_listed_and_revoked_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "node"
    run_papi("init", "--data-dir", str(data))
    token = run_papi("token", "create", "--label", "agenda mairie", "--data-dir", str(data))
    # Machine-parsable: the token alone on the last line of stdout.
    assert re.fullmatch(r"papi_[\w-]+", token.stdout.strip().splitlines()[-1])
    run_papi("token", "create", "--label", "double", "--data-dir", str(data))
    run_papi("token", "create", "--label", "double", "--data-dir", str(data))
    listing = papi(data, "token", "list")
    assert re.search(r"1 agenda mairie\s+" + PARIS_TIME.pattern + r"\s+-", listing)
    assert "papi_" not in listing
    ambiguous = papi(data, "token", "revoke", "double", "--yes", check=False)
    assert "2 jetons portent le libellé double : donnez le numéro" in ambiguous
    revoked = papi(data, "token", "revoke", "agenda mairie", "--yes")
    assert "Jeton d'API 1 (agenda mairie) révoqué." in revoked
    assert "audit: token.revoke 1 (agenda mairie)" in revoked
    assert "agenda mairie" not in papi(data, "token", "list")
    assert "aucun jeton d'API 9" in papi(data, "token", "revoke", "9", "--yes", check=False)


def test_peer_remove(tmp_path: Path) -> None:
    data = tmp_path / "node"
    run_papi("init", "--data-dir", str(data))
    run_papi("peer", "add", "http://127.0.0.1:9/", "--data-dir", str(data))
    assert "nouveau" in papi(data, "peer", "list")
    papi(data, "sync", check=False)  # unreachable: the peer is failing, retried later
    listed = papi(data, "peer", "list")  # in French, times in Paris time with the zone
    assert "ÉTAT" in listed and "ÉCHECS" in listed and "PROCHAIN ESSAI" in listed
    assert re.search(r"http://127\.0\.0\.1:9 +en échec +1 +- +" + PARIS_TIME.pattern, listed)
    english = run_papi("peer", "list", "--data-dir", str(data), env={"LANGUAGE": "en"}).stdout
    assert "STATE" in english and "failing" in english
    assert "Pair http://127.0.0.1:9 retiré." in papi(
        data, "peer", "remove", "http://127.0.0.1:9/", "--yes"
    )
    assert "127.0.0.1:9" not in papi(data, "peer", "list")
    assert "aucun pair" in papi(data, "peer", "remove", "http://127.0.0.1:9", "--yes", check=False)


async def test_a_revoked_token_gets_401_at_once(papi: InProcessNode) -> None:
    from node.api.auth import revoke_token

    body = {"title": "Atelier"}
    assert (
        await papi.client.post("/api/v1/skills", json=body, headers=papi.auth)
    ).status_code == 201
    with papi.node.db.activated():
        await revoke_token(papi.node, "1")
    refused = await papi.client.post("/api/v1/skills", json=body, headers=papi.auth)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"


async def test_accounts_made_before_roles_stay_administrators(tmp_path: Path) -> None:
    async with in_process_node(tmp_path / "n") as node:
        with node.node.db.activated():
            await add_user(node.node.db, "ancien@exemple.fr", PASSWORD)
    database = sqlite3.connect(tmp_path / "n" / "papi.sqlite3")
    database.execute("ALTER TABLE users DROP COLUMN role")
    database.execute("ALTER TABLE users DROP COLUMN disabled")
    database.execute("UPDATE users SET email = email")
    database.execute("PRAGMA user_version = 1")  # the schema of a release before roles
    database.commit()
    database.close()
    async with in_process_node(tmp_path / "n") as node:
        assert (await log_in(node, "ancien@exemple.fr", PASSWORD)).status_code == 303
        assert (await node.client.get("/admin/place")).status_code == 200


async def post_from(
    papi: InProcessNode, page: str, action: str, data: dict[str, str]
) -> httpx.Response:
    """POST ``data`` to ``action`` with the CSRF token of the page the form is on."""
    token = csrf_of((await papi.client.get(page)).text)
    return await papi.client.post(action, data={**data, "csrf_token": token})


async def _logged_in(papi: InProcessNode, email: str, role: str | None = None) -> None:
    with papi.node.db.activated():
        await add_user(papi.node.db, email, PASSWORD, role)
    assert (await log_in(papi, email, PASSWORD)).status_code == 303


async def test_animators_are_kept_out_of_the_administrators_pages(papi: InProcessNode) -> None:
    with papi.node.db.activated():
        await add_user(
            papi.node.db, "chef@exemple.fr", PASSWORD
        )  # the first account: administrator
    await _logged_in(papi, "anim@exemple.fr")
    for path in (
        "/admin/place",
        "/admin/peers",
        "/admin/accounts",
        "/admin/tokens",
        "/admin/mail",
        "/admin/share",
    ):
        page = await papi.client.get(path)
        assert page.status_code == 403, path
        assert "Réservé aux administrateurs" in page.text
    dashboard = await papi.client.get("/admin")
    assert dashboard.status_code == 200
    assert (
        'href="/admin/place"' not in dashboard.text
        and 'href="/admin/accounts"' not in dashboard.text
    )
    form = await papi.client.get("/admin/skills/new")
    assert form.status_code == 200
    posted = await papi.client.post(
        "/admin/place", data={"nom": "Pris", "csrf_token": csrf_of(form.text)}
    )
    assert posted.status_code == 403
    created = await submit(papi, "/admin/skills/new", {"title": "Premiers pas"})
    assert created.status_code == 303


async def test_administrators_manage_accounts_and_tokens_in_admin(papi: InProcessNode) -> None:
    await _logged_in(papi, "chef@exemple.fr")
    page = await papi.client.get("/admin/accounts")
    assert page.status_code == 200 and "chef@exemple.fr" in page.text
    added = await submit(
        papi,
        "/admin/accounts",
        {"email": "Anim@Exemple.fr", "password": PASSWORD, "role": "animator"},
    )
    assert added.status_code == 303
    short = await submit(
        papi, "/admin/accounts", {"email": "b@exemple.fr", "password": "court", "role": "animator"}
    )
    assert short.status_code == 400 and "au moins 8 caractères" in short.text
    disabled = await post_from(
        papi,
        "/admin/accounts",
        "/admin/accounts/change",
        {"email": "anim@exemple.fr", "action": "disable"},
    )
    assert disabled.status_code == 303
    async with httpx.AsyncClient(
        transport=papi.client._transport, base_url="http://testserver"
    ) as other:
        login = await other.get("/admin/login")
        refused = await other.post(
            "/admin/login",
            data={
                "email": "anim@exemple.fr",
                "password": PASSWORD,
                "csrf_token": csrf_of(login.text),
            },
        )
        assert refused.status_code == 401
    alone = await post_from(
        papi,
        "/admin/accounts",
        "/admin/accounts/change",
        {"email": "chef@exemple.fr", "action": "animator"},
    )
    assert alone.status_code == 400 and "dernier administrateur" in alone.text
    confirm = await papi.client.get("/admin/accounts/remove", params={"email": "anim@exemple.fr"})
    assert "Supprimer le compte anim@exemple.fr" in confirm.text
    removed = await papi.client.post(
        "/admin/accounts/remove",
        data={"email": "anim@exemple.fr", "csrf_token": csrf_of(confirm.text)},
    )
    assert removed.status_code == 303
    listing = (await papi.client.get("/admin/accounts")).text
    assert "Le compte anim@exemple.fr est supprimé." in listing
    assert '<input type="hidden" name="email" value="anim@exemple.fr">' not in listing

    created = await submit(papi, "/admin/tokens", {"label": "site de la mairie"})
    assert created.status_code == 201
    token = re.search(r'<code class="token">(papi_[\w-]+)</code>', created.text)
    assert token and created.headers["cache-control"] == "no-store"
    headers = {"authorization": f"Bearer {token[1]}"}
    ok = await papi.client.post("/api/v1/skills", json={"title": "x"}, headers=headers)
    assert ok.status_code == 201
    listing = await papi.client.get("/admin/tokens")
    assert "site de la mairie" in listing.text and token[1] not in listing.text
    number = re.search(
        r'revoke\?token=(\d+)">Révoquer<span class="visually-hidden"> site', listing.text
    )
    assert number
    confirm = await papi.client.get("/admin/tokens/revoke", params={"token": number[1]})
    revoked = await papi.client.post(
        "/admin/tokens/revoke", data={"token": number[1], "csrf_token": csrf_of(confirm.text)}
    )
    assert revoked.status_code == 303
    refused = await papi.client.post("/api/v1/skills", json={"title": "x"}, headers=headers)
    assert refused.status_code == 401


async def test_two_first_accounts_at_once_make_one_administrator(
    papi: InProcessNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creating an account reads (is there one yet?) then writes, in one write
    transaction: two created at once cannot both find the node empty."""
    from node.store import accounts as rows
    from node.web import accounts

    real_any_user = rows.any_user

    async def slow_any_user(conn: Any) -> bool:
        found = await real_any_user(conn)
        await asyncio.sleep(0.05)  # the other creation runs meanwhile, if it can
        return found

    monkeypatch.setattr(rows, "any_user", slow_any_user)
    monkeypatch.setattr(accounts, "hash_password", lambda password: "not-a-real-hash")
    with papi.node.db.activated():
        db = papi.node.db
        await asyncio.gather(
            add_user(db, "un@exemple.fr", PASSWORD), add_user(db, "deux@exemple.fr", PASSWORD)
        )
        roles = sorted(account.role for account in await accounts.list_accounts(db))
    assert roles == ["admin", "animator"]

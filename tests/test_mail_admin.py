"""Notification mails, seen by the operator: the settings and their checks, ``papi mail
test``, the /admin mail page with its test button, and the password shown nowhere."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from node.cli import main
from node.datadir import init_data_dir
from node.settings import ConfigError, load_settings, update_config

from .conftest import InProcessNode, in_process_node
from .mailserver import Certificate, MailServer, self_signed_certificate
from .test_web import csrf_of, log_in, make_user

PASSWORD = "pässword-never-shown-42"


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return self_signed_certificate(tmp_path)


@pytest.fixture
def server(certificate: Certificate) -> Iterator[MailServer]:
    mail_server = MailServer(
        security="starttls", certificate=certificate, users={"epn@epn-test.fr": PASSWORD}
    ).start()
    yield mail_server
    mail_server.stop()


def settings_of(server: MailServer, **extra: Any) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": server.port,
        "smtp_security": "starttls",
        "smtp_user": "epn@epn-test.fr",
        "smtp_password": PASSWORD,
        "notify_email": "accueil@epn-test.fr",
        **extra,
    }


@pytest.fixture
async def admin(
    tmp_path: Path, server: MailServer, certificate: Certificate
) -> AsyncIterator[InProcessNode]:
    async with in_process_node(tmp_path / "node", **settings_of(server)) as papi:
        papi.node.mail_tls_context = certificate.client_context()
        await make_user(papi)
        assert (await log_in(papi)).status_code == 303
        yield papi


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


# -- settings ---------------------------------------------------------------------------


def test_mail_settings_are_checked_when_mail_is_on(tmp_path: Path) -> None:
    def load(**values: Any) -> Any:
        return load_settings(tmp_path, values, environ={})

    assert not load().mail_enabled  # off by default, whatever the other smtp_* say
    assert not load(smtp_security="nonsense", notify_email="a, b").mail_enabled
    base = {"smtp_host": "smtp.exemple.fr"}
    with pytest.raises(ConfigError, match="smtp_security"):
        load(**base, smtp_security="ssl", smtp_from="a@exemple.fr")
    with pytest.raises(ConfigError, match="smtp_from"):
        load(**base)  # no sender can be derived: no address login, no url
    with pytest.raises(ConfigError, match="notify_email"):
        load(**base, smtp_from="a@exemple.fr", notify_email="a@exemple.fr, b@exemple.fr")
    with pytest.raises(ConfigError, match="smtp_from"):
        load(**base, smtp_from="papi\nBcc: victime@exemple.fr <a@exemple.fr>")
    with pytest.raises(ConfigError, match="smtp_password") as refused:
        load(**base, smtp_from="a@exemple.fr", smtp_password="zq9secret\nxk2")
    assert "zq9secret" not in str(refused.value)  # the secret is not repeated
    with pytest.raises(ConfigError, match="smtp_port"):
        load(**base, smtp_from="a@exemple.fr", smtp_port=70000)
    # The sender: smtp_from, else the login when it is an address, else noreply@<url host>.
    assert load(**base, smtp_user="epn@exemple.fr").smtp_sender == "papi-node <epn@exemple.fr>"
    derived = load(**base, smtp_user="epn", url="https://papi.epn.fr:8443/")
    assert derived.smtp_sender == "papi-node <noreply@papi.epn.fr>"
    given = load(**base, smtp_user="epn@exemple.fr", smtp_from="EPN <contact@epn.fr>")
    assert given.smtp_sender == "EPN <contact@epn.fr>"


def test_the_password_is_not_in_the_settings_repr(tmp_path: Path) -> None:
    settings = load_settings(
        tmp_path,
        {"smtp_host": "smtp.exemple.fr", "smtp_user": "a@exemple.fr", "smtp_password": PASSWORD},
        environ={},
    )
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)
    assert settings.smtp_password == PASSWORD


def test_papi_toml_holding_the_password_is_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "node"
    init_data_dir(data_dir, {"name": "EPN"})
    update_config(data_dir / "papi.toml", {"smtp_password": PASSWORD})
    assert (data_dir / "papi.toml").stat().st_mode & 0o077 == 0


# -- papi mail test ---------------------------------------------------------------------


def run_mail_test(
    data_dir: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    code = 0
    try:
        main(["mail", "test", "--data-dir", str(data_dir), *args])
    except SystemExit as exit:
        code = int(exit.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def configured(tmp_path: Path, server: MailServer, **extra: Any) -> Path:
    data_dir = tmp_path / "node"
    init_data_dir(data_dir, {"name": "EPN test"})
    update_config(data_dir / "papi.toml", settings_of(server, **extra))
    return data_dir


def test_papi_mail_test_reports_each_step(
    tmp_path: Path,
    server: MailServer,
    certificate: Certificate,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert_path))  # the CLI trusts it
    data_dir = configured(tmp_path, server)
    code, out, err = run_mail_test(data_dir, capsys, "--to", "moi@epn-test.fr")
    assert code == 0, err
    assert "Serveur SMTP : 127.0.0.1" in out
    assert "TLS établi (STARTTLS) : 220" in out
    assert "authentifié : 235" in out
    assert "accepté par le serveur : 250 2.0.0 Ok: queued as T1" in out
    assert "E-mail d'essai envoyé à moi@epn-test.fr" in out
    assert PASSWORD not in out + err
    [received] = server.received
    assert received.rcpt_tos == ["moi@epn-test.fr"]
    assert received.message["Subject"] == "E-mail d'essai de papi-node"


@pytest.mark.parametrize(
    ("change", "advice"),
    [
        ({"smtp_password": "faux-mot-de-passe"}, "vérifiez smtp_user et smtp_password"),
        ({"smtp_security": "tls"}, "vérifiez smtp_security et smtp_port"),
        ({"smtp_security": "none"}, "utilisez starttls ou tls"),
    ],
)
def test_papi_mail_test_says_what_to_fix(
    tmp_path: Path,
    server: MailServer,
    certificate: Certificate,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, Any],
    advice: str,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert_path))
    data_dir = configured(tmp_path, server, **change)
    code, out, err = run_mail_test(data_dir, capsys)
    assert code == 1
    assert err.startswith("papi : erreur : e-mail non envoyé : ")
    assert advice in err
    assert PASSWORD not in out + err and "faux-mot-de-passe" not in out + err
    assert server.received == []


def test_papi_mail_test_on_a_closed_port_and_with_mail_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = MailServer()  # its port, nobody listening
    data_dir = configured(
        tmp_path, closed, smtp_security="none", smtp_user="", smtp_from="noreply@epn-test.fr"
    )
    code, _, err = run_mail_test(data_dir, capsys)
    assert code == 1 and "a refusé la connexion : vérifiez smtp_host et smtp_port" in err

    off = tmp_path / "off"
    init_data_dir(off, {"name": "EPN"})
    code, _, err = run_mail_test(off, capsys)
    assert code == 1 and "les e-mails sont désactivés : renseignez smtp_host" in err


def test_an_untrusted_certificate_says_so(
    tmp_path: Path, server: MailServer, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = configured(tmp_path, server)
    code, _, err = run_mail_test(data_dir, capsys)
    assert code == 1
    assert "certificat TLS du serveur SMTP n'est pas valable" in err


# -- /admin -----------------------------------------------------------------------------


async def test_admin_mail_page_sends_a_test_mail(admin: InProcessNode, server: MailServer) -> None:
    page = await admin.client.get("/admin/mail")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Serveur SMTP : 127.0.0.1" in text
    assert "Destinataire des notifications : accueil@epn-test.fr" in text
    assert "E-mails à envoyer : 0" in text

    answer = await admin.client.post(
        "/admin/mail/test", data={"to": "", "csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 200
    text = text_of(answer.text)
    assert "accepté par le serveur : 250" in text
    assert "E-mail d'essai envoyé à accueil@epn-test.fr" in text
    assert [r.rcpt_tos for r in server.received] == [["accueil@epn-test.fr"]]

    bad = await admin.client.post(
        "/admin/mail/test", data={"to": "a@b.fr, c@d.fr", "csrf_token": csrf_of(page.text)}
    )
    assert bad.status_code == 400
    assert "Donnez une adresse e-mail, ou laissez le champ vide." in text_of(bad.text)
    assert len(server.received) == 1
    forged = await admin.client.post("/admin/mail/test", data={"to": "", "csrf_token": "x"})
    assert forged.status_code == 403 and len(server.received) == 1


async def test_admin_mail_page_when_mail_is_off(tmp_path: Path) -> None:
    async with in_process_node(tmp_path / "node") as papi:
        await make_user(papi)
        await log_in(papi)
        page = await papi.client.get("/admin/mail")
        assert page.status_code == 200
        assert "Les e-mails sont désactivés" in text_of(page.text)
        answer = await papi.client.post(
            "/admin/mail/test", data={"to": "", "csrf_token": csrf_of(page.text)}
        )
        assert answer.status_code == 409
        assert "les e-mails sont désactivés" in text_of(answer.text)


async def test_the_password_is_shown_nowhere(
    admin: InProcessNode, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    page = await admin.client.get("/admin/mail")
    await admin.client.post("/admin/mail/test", data={"to": "", "csrf_token": csrf_of(page.text)})
    paths = [
        "/",
        "/admin",
        "/admin/mail",
        "/admin/place",
        "/admin/peers",
        "/admin/share",
        "/api/v1/node",
        "/api/v1/nodes",
        "/api/v1/place",
        "/healthz",
        "/readyz",
    ]
    for path in paths:
        answer = await admin.client.get(path, headers=admin.auth)
        assert answer.status_code == 200, path
        assert PASSWORD not in answer.text, path
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]  # aiosmtpd's
    assert ours and all(PASSWORD not in r.getMessage() for r in ours)


async def test_the_mail_page_needs_a_login(tmp_path: Path, server: MailServer) -> None:
    async with in_process_node(tmp_path / "node", **settings_of(server)) as papi:
        page = await papi.client.get("/admin/mail")
        assert page.status_code == 303 and page.headers["location"].startswith("/admin/login")
        sent = await papi.client.post("/admin/mail/test", data={"to": "x@epn-test.fr"})
        assert sent.status_code == 303
    assert server.received == []

"""A real SMTP server for the tests (aiosmtpd, in its own thread on 127.0.0.1), with
optional STARTTLS or implicit TLS (a self-signed certificate made here with
``cryptography``) and optional authentication."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .conftest import free_port_block


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Recorder:
    """The server's handler: keeps what it accepts; refuses the recipients listed."""

    received: list[Received] = field(default_factory=list)
    refused_recipients: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refused_recipients:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        login = session.auth_data.login.decode() if session.authenticated else None
        content = envelope.original_content or b""
        self.received.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), content, login)
        )
        return "250 2.0.0 Ok: queued as T1"


@dataclass(frozen=True)
class Certificate:
    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def client_context(self) -> ssl.SSLContext:
        """What a client that trusts this certificate uses (the node's mail_tls_context)."""
        return ssl.create_default_context(cafile=str(self.cert_path))


def self_signed_certificate(directory: Path) -> Certificate:
    """A certificate for 127.0.0.1 and localhost, signed by its own key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "papi test SMTP")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "smtp-cert.pem"
    key_path = directory / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_path, key_path)


class MailServer:
    """An SMTP server on a port of its own, which can be stopped and started again there.

    ``security``: ``none``, ``starttls`` (required before anything else) or ``tls``
    (implicit); ``users``: logins and passwords it accepts (then AUTH is required)."""

    def __init__(
        self,
        *,
        security: str = "none",
        certificate: Certificate | None = None,
        users: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port_block(1)
        self.recorder = Recorder()
        self.security = security
        self.certificate = certificate
        self.users = users or {}
        self.logins: list[tuple[str, bool]] = []
        self.controller: Controller | None = None

    @property
    def received(self) -> list[Received]:
        return self.recorder.received

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        accepted = self.users.get(login) == password
        self.logins.append((login, accepted))
        # handled=False: aiosmtpd answers 535 itself on a failure.
        return AuthResult(success=accepted, handled=False, auth_data=data)

    def start(self) -> MailServer:
        options: dict[str, Any] = {}
        if self.security == "starttls":
            assert self.certificate is not None
            options.update(tls_context=self.certificate.server_context(), require_starttls=True)
        elif self.security == "tls":
            assert self.certificate is not None
            options.update(ssl_context=self.certificate.server_context())
        if self.users:
            options.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self.security != "none",
            )
        self.controller = Controller(
            self.recorder,
            hostname="127.0.0.1",
            port=self.port,
            server_hostname="localhost",
            **options,
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

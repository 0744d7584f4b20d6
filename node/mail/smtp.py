"""Talking to the SMTP server: the message of one mail and one exchange, with the
standard library's ``smtplib`` (blocking: the worker runs it in a thread).

Every failure becomes a ``SmtpFailure`` with a ``kind`` that says what to fix (the
advice is in ``ADVICE``, French through the gettext catalogue) and whether it is the
server as a whole (every mail waits) or this one mail (refused for good with a 5xx
answer, or to try again). The password is only ever handed to ``smtplib.login``: it is in
no message, log line or error text.
"""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import urlsplit

from ..settings import Settings, single_address
from ..web.i18n import N_


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # starttls | tls | none
    user: str
    password: str = field(repr=False)
    sender: str
    timeout: float
    #: Our name in EHLO: the host of the node's ``url`` (else the system's name).
    local_hostname: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig | None:
        """None when mail is off (no ``smtp_host``)."""
        if not settings.mail_enabled:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            user=settings.smtp_user,
            password=settings.smtp_password,
            sender=settings.smtp_sender,
            timeout=settings.smtp_timeout_seconds,
            local_hostname=urlsplit(settings.url).hostname if settings.url else None,
        )


def build_message(
    *, sender: str, recipient: str, subject: str, body: str, message_id: str, date: datetime
) -> EmailMessage:
    """A plain-text UTF-8 mail, quoted-printable (7-bit safe through any relay), marked
    ``Auto-Submitted`` so that auto-responders do not answer it (RFC 3834). ``ValueError``
    when a header would hold a line break."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body, charset="utf-8", cte="quoted-printable")
    return message


class SmtpFailure(Exception):
    """One exchange failed. ``kind`` keys ``ADVICE``; ``detail`` is the technical cause
    (the server's answer), never a secret; ``whole_server``: every mail would fail the
    same way now; ``permanent``: this mail will never pass (a 5xx refusal)."""

    def __init__(
        self, kind: str, detail: str, *, whole_server: bool = True, permanent: bool = False
    ) -> None:
        super().__init__(f"[{kind}] {detail}")
        self.kind = kind
        self.detail = detail
        self.whole_server = whole_server
        self.permanent = permanent


#: What to fix, by kind of failure (shown by ``papi mail test`` and /admin).
ADVICE = {
    "dns": N_("the SMTP server's name is unknown: check smtp_host"),
    "refused": N_(
        "the SMTP server refused the connection: check smtp_host and smtp_port"
        " (587 for starttls, 465 for tls) and that the server is up"
    ),
    "network": N_("the SMTP server cannot be reached: check the network, smtp_host and smtp_port"),
    "timeout": N_(
        "the SMTP server did not answer in time: check smtp_port and smtp_security"
        " (465 needs tls, 587 starttls), or raise smtp_timeout_seconds"
    ),
    "certificate": N_(
        "the SMTP server's TLS certificate is not valid for smtp_host: use the name the"
        " certificate is for"
    ),
    "tls": N_(
        "the TLS handshake failed: check smtp_security and smtp_port (465 needs tls, 587 starttls)"
    ),
    "no_starttls": N_(
        "the server does not offer STARTTLS on this port: use smtp_security = tls with"
        " port 465, or none on a local relay"
    ),
    "auth": N_("the server refused the login: check smtp_user and smtp_password"),
    "no_auth": N_(
        "the server offers no login on this connection: use starttls or tls, or leave"
        " smtp_user empty for a relay that needs none"
    ),
    "sender": N_(
        "the server refused the sender: set smtp_from to an address this account may send as"
    ),
    "recipient": N_("the server refused the recipient: check notify_email or the address given"),
    "data": N_("the server refused the message"),
    "protocol": N_("the SMTP server answered something unexpected"),
}

Progress = Callable[[str, str], None]


def send(
    config: SmtpConfig,
    message: EmailMessage,
    *,
    tls: ssl.SSLContext | None = None,
    progress: Progress | None = None,
) -> str:
    """Deliver ``message`` to its ``To`` through the server; the server's answer to the
    data. ``progress(step, answer)`` hears each step (``connected``, ``starttls``,
    ``login``, ``accepted``). ``SmtpFailure`` on any failure."""
    report = progress or (lambda step, answer: None)
    sender = single_address(str(message["From"]))
    recipient = single_address(str(message["To"]))
    if sender is None or recipient is None:
        raise SmtpFailure("recipient", "no single address in From or To", whole_server=False)
    try:
        with _connect(config, tls or ssl.create_default_context(), report) as smtp:
            international = not (sender + recipient).isascii()
            options: list[str] = []
            if international:
                if not smtp.has_extn("smtputf8"):
                    raise SmtpFailure(
                        "recipient",
                        "an address is not ASCII and the server does not offer SMTPUTF8",
                        whole_server=False,
                        permanent=True,
                    )
                options = ["SMTPUTF8"]
            data = message.as_bytes(policy=policy.SMTPUTF8 if international else policy.SMTP)
            code, answer = smtp.mail(sender, options)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, answer, sender)
            code, answer = smtp.rcpt(recipient)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({recipient: (code, answer)})
            code, answer = smtp.data(data)
            if code != 250:
                raise smtplib.SMTPDataError(code, answer)
            text = _answer(code, answer)
            report("accepted", text)
            return text
    except SmtpFailure:
        raise
    except Exception as exc:
        raise classify(exc) from None


class _Session:
    """An open SMTP connection, closed on exit (QUIT when the server still listens)."""

    def __init__(self, smtp: smtplib.SMTP) -> None:
        self.smtp = smtp

    def __enter__(self) -> smtplib.SMTP:
        return self.smtp

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            self.smtp.close()


def _connect(config: SmtpConfig, context: ssl.SSLContext, report: Progress) -> _Session:
    smtp: smtplib.SMTP
    if config.security == "tls":
        smtp = smtplib.SMTP_SSL(
            config.host,
            config.port,
            local_hostname=config.local_hostname,
            timeout=config.timeout,
            context=context,
        )
    else:
        smtp = smtplib.SMTP(
            config.host, config.port, local_hostname=config.local_hostname, timeout=config.timeout
        )
    session = _Session(smtp)
    try:
        code, answer = smtp.ehlo()
        report("connected", _answer(code, answer))
        if config.security == "starttls":
            if not smtp.has_extn("starttls"):
                raise SmtpFailure("no_starttls", "the server's EHLO lists no STARTTLS")
            code, answer = smtp.starttls(context=context)
            report("starttls", _answer(code, answer))
            smtp.ehlo()
        if config.user:
            if not smtp.has_extn("auth"):
                raise SmtpFailure("no_auth", "the server's EHLO lists no AUTH")
            code, answer = _login(smtp, config.user, config.password)
            report("login", _answer(code, answer))
    except BaseException:
        session.__exit__(None, None, None)
        raise
    return session


def _login(smtp: smtplib.SMTP, user: str, password: str) -> tuple[int, bytes]:
    """``smtplib.login``, except that a login or password beyond ASCII (which smtplib
    cannot encode) goes as UTF-8, as SASL PLAIN (RFC 4616) says, or through LOGIN."""
    if (user + password).isascii():
        return smtp.login(user, password)
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    if "PLAIN" in offered:
        token = b"\0" + user.encode() + b"\0" + password.encode()
        code, answer = smtp.docmd("AUTH", "PLAIN " + _b64(token))
    elif "LOGIN" in offered:
        code, answer = smtp.docmd("AUTH", "LOGIN " + _b64(user.encode()))
        if code == 334:
            code, answer = smtp.docmd(_b64(password.encode()))
    else:
        raise SmtpFailure("auth", "the server offers neither PLAIN nor LOGIN for a non-ASCII login")
    if code not in (235, 503):  # 503: already authenticated
        raise smtplib.SMTPAuthenticationError(code, answer)
    return code, answer


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def classify(exc: BaseException) -> SmtpFailure:
    """The ``SmtpFailure`` an exception of ``smtplib``, ``ssl`` or the network means."""
    if isinstance(exc, SmtpFailure):
        return exc
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return SmtpFailure("auth", _answer(exc.smtp_code, exc.smtp_error))
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return SmtpFailure("sender", _answer(exc.smtp_code, exc.smtp_error))
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        details = "; ".join(_answer(code, text) for code, text in exc.recipients.values())
        return SmtpFailure(
            "recipient", details, whole_server=False, permanent=all(c >= 500 for c in codes)
        )
    if isinstance(exc, smtplib.SMTPDataError):
        return SmtpFailure(
            "data",
            _answer(exc.smtp_code, exc.smtp_error),
            whole_server=False,
            permanent=exc.smtp_code >= 500,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return SmtpFailure("protocol", _answer(exc.smtp_code, exc.smtp_error))
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return SmtpFailure("no_auth" if "AUTH" in str(exc) else "protocol", str(exc))
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib reports a read that timed out as a disconnection.
        kind = "timeout" if isinstance(exc.__context__, TimeoutError) else "protocol"
        return SmtpFailure(kind, f"the server closed the connection: {exc}")
    if isinstance(exc, smtplib.SMTPException):
        kind = "no_auth" if "AUTH" in str(exc) else "protocol"
        return SmtpFailure(kind, str(exc))
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SmtpFailure("certificate", exc.verify_message or str(exc))
    if isinstance(exc, ssl.SSLError):
        return SmtpFailure("tls", exc.reason or str(exc))
    if isinstance(exc, socket.gaierror):
        return SmtpFailure("dns", str(exc))
    if isinstance(exc, ConnectionRefusedError):
        return SmtpFailure("refused", str(exc))
    if isinstance(exc, TimeoutError):
        return SmtpFailure("timeout", str(exc) or "timed out")
    if isinstance(exc, OSError):
        return SmtpFailure("network", str(exc))
    if isinstance(exc, ValueError):  # a header with a line break, a body that cannot be
        return SmtpFailure("data", str(exc), whole_server=False, permanent=True)
    return SmtpFailure("protocol", f"{type(exc).__name__}: {exc}")


def _answer(code: int, answer: bytes | str) -> str:
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
    return f"{code} {' '.join(text.split())}"[:300]

"""A test mail, sent at once (not queued) so that the operator sees the outcome:
``papi mail test`` and the /admin mail page. Lines in French through the catalogue."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from federation.timeutil import utc_now

from ..settings import single_address
from ..web.i18n import N_
from .compose import render_body, trial_mail
from .notify import new_message_id, place_address
from .smtp import ADVICE, SmtpConfig, SmtpFailure, build_message, send

if TYPE_CHECKING:
    from ..runtime import Node

#: What each step of the exchange is called in the report.
STEPS = {
    "connected": N_("connected: %(answer)s"),
    "starttls": N_("TLS started (STARTTLS): %(answer)s"),
    "login": N_("logged in: %(answer)s"),
    "accepted": N_("accepted by the server: %(answer)s"),
}
MAIL_OFF = N_(
    "mail is off: set smtp_host (and the other smtp_* settings) in papi.toml,"
    " see docs/configuration.md"
)
NO_RECIPIENT = N_(
    "no recipient: give an address, or set notify_email or a courriel in the place profile"
)


class TrialRefused(Exception):
    """The test mail cannot even be tried (mail off, no recipient); a French message."""


async def send_trial_mail(
    node: Node,
    gettext: Callable[[str], str],
    *,
    to: str | None = None,
    report: Callable[[str], None] = lambda line: None,
) -> str:
    """Send a test mail to ``to`` (else where notifications go) and ``report`` each step
    in words; the recipient. ``TrialRefused``, or ``SmtpFailure`` with what to fix."""
    config = SmtpConfig.from_settings(node.settings)
    if config is None:
        raise TrialRefused(gettext(MAIL_OFF))
    recipient = (
        to or node.settings.notify_email or await place_address(node.db.connection(), node.origin)
    )
    if not recipient or single_address(recipient) is None:
        raise TrialRefused(gettext(NO_RECIPIENT))
    report(
        gettext("SMTP server: %(host)s, port %(port)s, security %(security)s")
        % {"host": config.host, "port": config.port, "security": config.security}
    )
    if config.user:
        report(gettext("login: %(user)s") % {"user": config.user})
    report(
        gettext("from %(sender)s to %(recipient)s")
        % {"sender": config.sender, "recipient": recipient}
    )
    notification = trial_mail(node.settings.name)
    message = build_message(
        sender=config.sender,
        recipient=recipient,
        subject=notification.subject,
        body=render_body(notification, base_url=node.settings.url, place=node.settings.name),
        message_id=new_message_id(config.sender),
        date=utc_now(),
    )
    loop = asyncio.get_running_loop()

    def progress(step: str, answer: str) -> None:
        line = gettext(STEPS[step]) % {"answer": answer}
        loop.call_soon_threadsafe(report, line)

    await asyncio.to_thread(send, config, message, tls=node.mail_tls_context, progress=progress)
    await asyncio.sleep(0)  # let the last reported step through
    report(
        gettext("Test mail sent to %(recipient)s: look in its inbox (and its spam folder).")
        % {"recipient": recipient}
    )
    return recipient


def failure_text(failure: SmtpFailure, gettext: Callable[[str], str]) -> str:
    """``mail not sent: <what to fix> (<the server's answer>)``."""
    advice = gettext(ADVICE.get(failure.kind, ADVICE["protocol"]))
    return gettext("mail not sent: %(advice)s (%(detail)s)") % {
        "advice": advice,
        "detail": failure.detail,
    }

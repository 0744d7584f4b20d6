"""``/admin/mail``: the notification mails. Whether mail is on, where it goes, the
outbox, and a button that sends a test mail now and shows the exchange with the server.
The SMTP password is never shown."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..mail import outbox
from ..mail.notify import place_address
from ..mail.smtp import SmtpFailure
from ..mail.trial import TrialRefused, failure_text, send_trial_mail
from ..runtime import node_of
from ..settings import single_address
from .admin_base import admin_page, admin_required, with_form
from .fields import FieldError
from .i18n import N_, request_language, translations


async def _mail_page(
    request: Request,
    *,
    to: str = "",
    error: FieldError | None = None,
    report: list[str] | None = None,
    outcome: str | None = None,
    sent: bool = False,
    status: int = 200,
) -> Response:
    node = node_of(request)
    settings = node.settings
    recipient = settings.notify_email or await place_address(node.db.connection(), node.origin)
    return await admin_page(
        request,
        "admin/mail.html",
        {
            "enabled": settings.mail_enabled,
            "server": settings.smtp_host,
            "port": settings.smtp_port,
            "security": settings.smtp_security,
            "login": settings.smtp_user,
            "sender": settings.smtp_sender,
            "recipient": recipient,
            "outbox": await outbox.summary(node.db),
            "to": to,
            "error": error,
            "report": report or [],
            "outcome": outcome,
            "sent": sent,
        },
        status=status,
    )


@admin_required
async def mail_page(request: Request) -> Response:
    return await _mail_page(request)


@admin_required
@with_form
async def mail_test(request: Request, form: FormData) -> Response:
    to = str(form.get("to") or "").strip()
    if to and single_address(to) is None:
        error = FieldError(N_("Give one e-mail address, or leave the field empty."))
        return await _mail_page(request, to=to, error=error, status=400)
    gettext = translations(request_language(request)).gettext
    lines: list[str] = []
    try:
        await send_trial_mail(node_of(request), gettext, to=to or None, report=lines.append)
    except TrialRefused as exc:
        return await _mail_page(request, to=to, report=lines, outcome=str(exc), status=409)
    except SmtpFailure as exc:
        return await _mail_page(request, to=to, report=lines, outcome=failure_text(exc, gettext))
    return await _mail_page(request, to=to, report=lines, sent=True)


def routes() -> list[Route]:
    return [
        Route("/admin/mail", mail_page, methods=["GET"], name="admin.mail"),
        Route("/admin/mail/test", mail_test, methods=["POST"], name="admin.mail.test"),
    ]

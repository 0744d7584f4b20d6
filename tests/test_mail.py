"""Notification mails: queued with the step that causes them, sent by the worker to a
real SMTP server (aiosmtpd, started here on 127.0.0.1), retried with backoff."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from federation.statemachine import TransitionRefused
from federation.timeutil import utc_now
from node.jobs import Workers
from node.mail import compose, outbox
from node.mail.compose import Contact, Notification
from node.mail.notify import queue_notification
from node.mail.states import OUTBOX_MAIL, MailState
from node.mail.worker import MAX_ATTEMPTS, send_due_mails
from node.models import OutboxMail
from node.services.log import new_oid, publish

from .conftest import InProcessNode, in_process_node
from .mailserver import Certificate, MailServer, self_signed_certificate

LENDER = "ed25519:" + "L" * 43
REF = f"{LENDER}/pret-1"
PASSWORD = "s3cret-Ünïcode-pässword"
HELP_REQUEST = {
    "theme": "Bureautique",
    "title": "Animer un atelier tableur",
    "description": "Public senior, 8 personnes.",
    "from": "2027-01-10",
    "to": "2027-01-31",
    "state": "open",
}


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return self_signed_certificate(tmp_path)


@pytest.fixture
def server() -> Iterator[MailServer]:
    mail_server = MailServer().start()
    yield mail_server
    mail_server.stop()


def mail_settings(server: MailServer, **extra: Any) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": server.port,
        "smtp_security": "none",
        "smtp_from": "papi-node <noreply@epn-test.fr>",
        "notify_email": "Accueil EPN <accueil@epn-test.fr>",
        "url": "https://papi.epn-test.fr",
        "smtp_timeout_seconds": 10.0,
        **extra,
    }


@pytest.fixture
async def mailing(tmp_path: Path, server: MailServer) -> AsyncIterator[InProcessNode]:
    async with in_process_node(tmp_path / "node", **mail_settings(server)) as papi:
        yield papi


def loan_request() -> Notification:
    return compose.new_loan_request(
        REF,
        item="Vidéoprojecteur Épson",
        quantity=2,
        start="2026-12-05",
        end="2026-12-07",
        borrower="Médiathèque de Plouzané",
        contact=Contact("Émilie Le Gall", "emilie@exemple.fr", "+33298000000"),
        message="Bonjour,\nc'est pour l'atelier « smartphone » de samedi.",
    )


async def queue(papi: InProcessNode, notification: Notification, **options: Any) -> int | None:
    node = papi.node
    with node.db.activated():
        async with in_transaction() as conn:
            return await queue_notification(conn, node, notification, **options)


async def rows(papi: InProcessNode) -> list[OutboxMail]:
    with papi.node.db.activated():
        return await OutboxMail.all().order_by("id")


async def send(papi: InProcessNode, **options: Any) -> int:
    with papi.node.db.activated():
        return await send_due_mails(papi.node, **options)


async def test_a_queued_mail_is_delivered_with_its_headers(
    mailing: InProcessNode, server: MailServer
) -> None:
    mail_id = await queue(mailing, loan_request())
    assert mail_id is not None
    assert await send(mailing) == 1

    [received] = server.received
    assert received.mail_from == "noreply@epn-test.fr"
    assert received.rcpt_tos == ["accueil@epn-test.fr"]
    message = received.message
    [row] = await rows(mailing)
    assert row.state == MailState.sent and row.attempts == 1 and row.sent_at is not None
    assert message["From"] == "papi-node <noreply@epn-test.fr>"
    assert message["To"] == "Accueil EPN <accueil@epn-test.fr>"
    assert message["Subject"] == "Demande de prêt : Vidéoprojecteur Épson"
    assert message["Message-ID"] == row.message_id
    assert row.message_id.endswith("@epn-test.fr>")
    assert abs(parsedate_to_datetime(message["Date"]) - row.created) < timedelta(seconds=1)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    assert received.data.isascii()  # 7-bit safe through any relay
    body = message.get_content()
    assert "Médiathèque de Plouzané demande à emprunter 2 × Vidéoprojecteur Épson" in body
    assert "du samedi 5 décembre 2026 au lundi 7 décembre 2026" in body
    assert "Nom : Émilie Le Gall" in body and "Téléphone : +33298000000" in body
    assert "> c'est pour l'atelier « smartphone » de samedi." in body
    assert f"https://papi.epn-test.fr/admin/loans/{LENDER}/pret-1" in body
    assert "données personnelles" in body


async def test_the_place_profile_gives_the_address_when_notify_email_is_empty(
    tmp_path: Path, server: MailServer
) -> None:
    settings = mail_settings(server, notify_email="", url="")
    async with in_process_node(tmp_path / "node", **settings) as papi:
        # No address anywhere yet: nothing queued, no error.
        assert await queue(papi, loan_request()) is None
        answer = await papi.client.put(
            "/api/v1/place",
            headers=papi.auth,
            json={"nom": "EPN test", "courriels": ["contact@epn-test.fr", "autre@epn-test.fr"]},
        )
        assert answer.status_code == 200, answer.text
        assert await queue(papi, loan_request()) is not None
        assert await send(papi) == 1
    [received] = server.received
    assert received.rcpt_tos == ["contact@epn-test.fr"]
    # Without the url setting, the mail gives the page's path.
    assert f"/admin/loans/{LENDER}/pret-1 (à la suite de l'adresse de votre nœud)" in (
        received.message.get_content()
    )


async def test_mail_is_off_by_default(tmp_path: Path, server: MailServer) -> None:
    async with in_process_node(tmp_path / "node") as papi:
        node = papi.node
        assert not node.settings.mail_enabled
        assert await queue(papi, loan_request()) is None
        assert await rows(papi) == []
        assert await send(papi) == 0
        # The scheduler has no mail job and no mail worker.
        workers = Workers(node)
        await workers.start()
        try:
            assert workers.scheduler.get_job("mail") is None
        finally:
            await workers.stop()
    assert server.received == []


async def test_a_mail_queued_in_a_transaction_that_rolls_back_is_never_sent(
    mailing: InProcessNode, server: MailServer
) -> None:
    node = mailing.node

    class StepFailed(Exception):
        pass

    with node.db.activated(), pytest.raises(StepFailed):
        async with in_transaction() as conn:
            assert await queue_notification(conn, node, loan_request()) is not None
            raise StepFailed
    assert await rows(mailing) == []
    assert await send(mailing) == 0
    assert server.received == []


async def test_smtp_down_is_retried_with_backoff_then_delivered(
    mailing: InProcessNode, server: MailServer
) -> None:
    server.stop()
    first = await queue(mailing, loan_request())
    second = await queue(mailing, loan_request())
    start = utc_now()

    assert await send(mailing, now=start) == 0
    one, two = await rows(mailing)
    assert (one.id, two.id) == (first, second)
    assert one.state == MailState.pending and one.attempts == 1
    assert one.last_error is not None and one.last_error.startswith("[refused]")
    delay = one.next_attempt - start
    assert timedelta(seconds=45) <= delay <= timedelta(seconds=75)
    # The server failed as a whole: the other mail waits for the same attempt, uncounted.
    assert two.attempts == 0 and two.next_attempt == one.next_attempt

    # Nothing is tried again before the next attempt is due.
    assert await send(mailing, now=start + delay / 2) == 0
    assert [row.attempts for row in await rows(mailing)] == [1, 0]

    # Still down at the next attempt: a longer wait.
    assert await send(mailing, now=one.next_attempt) == 0
    one, _ = await rows(mailing)
    assert one.attempts == 2
    assert one.next_attempt - (start + delay) > delay

    server.start()
    assert await send(mailing, now=one.next_attempt) == 2
    assert [row.state for row in await rows(mailing)] == [MailState.sent, MailState.sent]
    assert len(server.received) == 2


async def test_a_recipient_refused_for_good_is_given_up_and_the_others_go_on(
    tmp_path: Path, server: MailServer
) -> None:
    server.recorder.refused_recipients.add("inconnu@epn-test.fr")
    settings = mail_settings(server, notify_email="inconnu@epn-test.fr")
    async with in_process_node(tmp_path / "node", **settings) as papi:
        await queue(papi, loan_request())
    settings = mail_settings(server)
    async with in_process_node(tmp_path / "node", **settings) as papi:
        await queue(papi, loan_request())
        assert await send(papi) == 1
        refused, delivered = await rows(papi)
    assert refused.state == MailState.failed and refused.attempts == 1
    assert refused.last_error is not None and "550" in refused.last_error
    assert delivered.state == MailState.sent
    assert [r.rcpt_tos for r in server.received] == [["accueil@epn-test.fr"]]


async def test_a_mail_is_given_up_after_the_last_attempt(
    mailing: InProcessNode, server: MailServer
) -> None:
    server.stop()
    await queue(mailing, loan_request())
    moment = utc_now()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert await send(mailing, now=moment) == 0
        [row] = await rows(mailing)
        assert row.attempts == attempt
        moment = row.next_attempt
    assert row.state == MailState.failed
    server.start()
    assert await send(mailing, now=moment + timedelta(days=1)) == 0
    assert server.received == []


@pytest.mark.parametrize("password", ["ascii-only-1234", PASSWORD])
async def test_login_over_starttls(tmp_path: Path, certificate: Certificate, password: str) -> None:
    server = MailServer(
        security="starttls", certificate=certificate, users={"epn@epn-test.fr": password}
    ).start()
    try:
        settings = mail_settings(
            server,
            smtp_security="starttls",
            smtp_user="epn@epn-test.fr",
            smtp_password=password,
            smtp_from="",
        )
        async with in_process_node(tmp_path / "node", **settings) as papi:
            papi.node.mail_tls_context = certificate.client_context()
            assert papi.node.settings.smtp_sender == "papi-node <epn@epn-test.fr>"
            await queue(papi, loan_request())
            assert await send(papi) == 1
    finally:
        server.stop()
    [received] = server.received
    assert received.login == "epn@epn-test.fr"
    assert received.mail_from == "epn@epn-test.fr"
    assert received.message["Subject"] == "Demande de prêt : Vidéoprojecteur Épson"


async def test_implicit_tls(tmp_path: Path, certificate: Certificate) -> None:
    server = MailServer(security="tls", certificate=certificate).start()
    try:
        settings = mail_settings(server, smtp_security="tls")
        async with in_process_node(tmp_path / "node", **settings) as papi:
            papi.node.mail_tls_context = certificate.client_context()
            await queue(papi, loan_request())
            assert await send(papi) == 1
    finally:
        server.stop()
    assert len(server.received) == 1


async def test_an_untrusted_certificate_is_refused(
    tmp_path: Path, certificate: Certificate
) -> None:
    server = MailServer(security="starttls", certificate=certificate).start()
    try:
        settings = mail_settings(server, smtp_security="starttls")
        async with in_process_node(tmp_path / "node", **settings) as papi:
            # The system's CAs: the self-signed certificate is not trusted.
            await queue(papi, loan_request())
            assert await send(papi) == 0
            [row] = await rows(papi)
    finally:
        server.stop()
    assert row.state == MailState.pending
    assert row.last_error is not None and row.last_error.startswith("[certificate]")
    assert server.received == []


async def test_a_wrong_password_is_retried_and_never_logged(
    tmp_path: Path, certificate: Certificate, caplog: pytest.LogCaptureFixture
) -> None:
    server = MailServer(
        security="starttls", certificate=certificate, users={"epn@epn-test.fr": "the-right-one"}
    ).start()
    caplog.set_level(logging.DEBUG)
    try:
        settings = mail_settings(
            server, smtp_security="starttls", smtp_user="epn@epn-test.fr", smtp_password=PASSWORD
        )
        async with in_process_node(tmp_path / "node", **settings) as papi:
            papi.node.mail_tls_context = certificate.client_context()
            await queue(papi, loan_request())
            assert await send(papi) == 0
            [row] = await rows(papi)
            assert PASSWORD not in repr(papi.node.settings)
    finally:
        server.stop()
    assert server.logins == [("epn@epn-test.fr", False)]
    assert row.state == MailState.pending and row.attempts == 1
    assert row.last_error is not None and row.last_error.startswith("[auth] 535")
    assert PASSWORD not in row.last_error
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]  # aiosmtpd's own
    assert any("not sent" in r.getMessage() for r in ours)
    for record in ours:
        assert PASSWORD not in record.getMessage()


async def wait_for(condition: Any, attempts: int = 600) -> None:
    """Condition-based wait for the background worker (never a fixed sleep)."""
    for _ in range(attempts):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met")


async def test_the_worker_is_woken_after_commit(mailing: InProcessNode, server: MailServer) -> None:
    node = mailing.node
    workers = Workers(node)
    await workers.start()
    try:
        assert workers.scheduler.get_job("mail") is not None
        await queue(mailing, loan_request())
        node.wake_mail()
        await wait_for(lambda: len(server.received) == 1)

        # A cooperation step stored (published here, or ingested from a peer) wakes the
        # worker by itself after its commit: the mails of its transaction go at once.
        await queue(mailing, loan_request())
        with node.db.activated():
            await publish(node, "help_request", new_oid(), "put", HELP_REQUEST)
        await wait_for(lambda: len(server.received) == 2)
        # The server has the mail a moment before the worker records it as sent.
        for _ in range(600):
            if all(row.state == MailState.sent for row in await rows(mailing)):
                break
            await asyncio.sleep(0.05)
    finally:
        await workers.stop()
    assert [row.state for row in await rows(mailing)] == [MailState.sent, MailState.sent]


async def test_a_mail_left_sending_by_a_stop_is_sent_again(
    mailing: InProcessNode, server: MailServer
) -> None:
    await queue(mailing, loan_request())
    with mailing.node.db.activated():
        [claimed] = await outbox.claim_due(mailing.node.db, utc_now(), 5)
        assert await send_due_mails(mailing.node) == 0  # it is 'sending', not due
        assert await outbox.reset_interrupted(mailing.node.db) == 1
    assert await send(mailing) == 1
    assert [row.message_id for row in await rows(mailing)] == [claimed.message_id]


async def test_once_key_queues_a_reminder_once(mailing: InProcessNode) -> None:
    reminder = compose.loan_decided(
        REF,
        "overdue",
        role="borrower",
        item="PC portable",
        quantity=1,
        start="2026-12-01",
        end="2026-12-02",
        other_place="EPN Bellevue",
    )
    assert await queue(mailing, reminder, once_key=f"overdue:{REF}") is not None
    assert await queue(mailing, reminder, once_key=f"overdue:{REF}") is None
    assert len(await rows(mailing)) == 1


async def test_the_outbox_is_bounded(
    mailing: InProcessNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "MAX_ROWS", 4)
    ids = [await queue(mailing, loan_request()) for _ in range(4)]
    with mailing.node.db.activated():
        await OutboxMail.filter(id__in=ids[:2]).update(state="sent")
        await OutboxMail.filter(id=ids[2]).update(state="failed")
    # Full: the oldest sent row makes room, then the other sent one, then the failed one.
    fifth = await queue(mailing, loan_request())
    assert [row.id for row in await rows(mailing)] == [ids[1], ids[2], ids[3], fifth]
    sixth = await queue(mailing, loan_request())
    seventh = await queue(mailing, loan_request())
    assert [row.id for row in await rows(mailing)] == [ids[3], fifth, sixth, seventh]
    # Only mails still to send: the new one is not queued (and nothing fails).
    assert await queue(mailing, loan_request()) is None
    assert len(await rows(mailing)) == 4


async def test_finished_rows_are_purged_after_a_while(mailing: InProcessNode) -> None:
    ids = [await queue(mailing, loan_request()) for _ in range(3)]
    with mailing.node.db.activated():
        await OutboxMail.filter(id__in=ids[:2]).update(state="sent")
        later = utc_now() + timedelta(days=31)
        assert await outbox.purge_finished(mailing.node.db, timedelta(days=30), now=later) == 2
    assert [row.id for row in await rows(mailing)] == [ids[2]]


async def test_a_silent_server_is_a_timeout(tmp_path: Path) -> None:
    import socket

    with socket.socket() as listener:  # accepts connections (backlog), never says a word
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        settings = {
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "none",
            "smtp_from": "noreply@epn-test.fr",
            "notify_email": "accueil@epn-test.fr",
            "smtp_timeout_seconds": 0.5,
        }
        async with in_process_node(tmp_path / "node", **settings) as papi:
            await queue(papi, loan_request())
            assert await send(papi) == 0
            [row] = await rows(papi)
    assert row.state == MailState.pending
    assert row.last_error is not None and row.last_error.startswith("[timeout]")


async def test_the_outbox_follows_its_declared_lifecycle(mailing: InProcessNode) -> None:
    assert OUTBOX_MAIL.is_final(MailState.sent) and OUTBOX_MAIL.is_final(MailState.failed)
    mail_id = await queue(mailing, loan_request())
    assert mail_id is not None
    with mailing.node.db.activated():
        # A pending row cannot be marked sent: only a claimed ('sending') one can.
        with pytest.raises(TransitionRefused):
            await outbox.finish_attempt(mailing.node.db, mail_id, "sent", now=utc_now())
        [claimed] = await outbox.claim_due(mailing.node.db, utc_now(), 5)
        sent = await outbox.finish_attempt(mailing.node.db, claimed.id, "sent", now=utc_now())
        assert sent is MailState.sent
        with pytest.raises(TransitionRefused):
            await outbox.finish_attempt(mailing.node.db, claimed.id, "retry", now=utc_now())
    [row] = await rows(mailing)
    assert row.state == MailState.sent and row.attempts == 1

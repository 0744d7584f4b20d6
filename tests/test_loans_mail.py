"""Notification mails of loans, delivered to a real SMTP server (aiosmtpd): the lender
is told of a new request (with the contact it opened), the borrower of each decision,
and both once of an overdue loan."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from federation.timeutil import utc_now
from node.cooperation.loans import remind_overdue
from node.mail.worker import send_due_mails

from .conftest import InProcessNode
from .coop_helpers import EMAIL, PHONE, act, add_item, ask, day, deliver, link, process, sync
from .mailserver import MailServer
from .network import network
from .test_mail import mail_settings


@pytest.fixture
def server() -> Iterator[MailServer]:
    mail_server = MailServer().start()
    yield mail_server
    mail_server.stop()


async def send(node: InProcessNode) -> int:
    with node.node.db.activated():
        return await send_due_mails(node.node)


def mails_to(server: MailServer, address: str) -> list[tuple[str, str]]:
    found = []
    for received in server.received:
        if address in received.rcpt_tos:
            message = received.message
            body = message.get_body(("plain",))
            assert body is not None
            found.append((str(message["Subject"]), str(body.get_content())))
    return found


async def test_the_lender_and_the_borrower_are_told_of_each_step(
    tmp_path: Path, server: MailServer
) -> None:
    per_node = {
        name: {
            key: value
            for key, value in mail_settings(server, notify_email=address).items()
            if key != "url"  # each node's own (the network's)
        }
        for name, address in (("a", "pret@lieu-a.fr"), ("b", "accueil@lieu-b.fr"))
    }
    async with network(tmp_path, ["a", "b"], per_node=per_node) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        await link(a, "b")
        item = await add_item(a, "Vidéoprojecteur Epson", quantity=1)
        await sync(b)
        ref = (await ask(b, item, start=day(1), end=day(2)))["id"]
        await deliver(b)
        await process(a)
        assert await send(a) == 1
        [(subject, body)] = mails_to(server, "pret@lieu-a.fr")
        assert subject == "Demande de prêt : Vidéoprojecteur Epson"
        assert EMAIL in body and PHONE in body and "Pour l'atelier tablette" in body
        assert f"http://a.test/admin/loans/{ref}" in body

        assert (await act(a, ref, "approve")).status_code == 200
        await deliver(a)
        assert await process(b) == 1
        assert await send(b) == 1
        [(subject, body)] = mails_to(server, "accueil@lieu-b.fr")
        assert subject == "Prêt accepté : Vidéoprojecteur Epson"
        assert f"http://b.test/admin/loans/{ref}" in body

        await act(a, ref, "checkout")
        await deliver(a)
        await process(b)
        await send(b)
        assert [s for s, _ in mails_to(server, "accueil@lieu-b.fr")][-1].startswith(
            "Matériel remis"
        )

        # Three days after the last day: one reminder to each side, once.
        later = utc_now() + timedelta(days=4)
        for _ in range(2):
            for node in (a, b):
                with node.node.db.activated():
                    assert await remind_overdue(node.node, later) == 1
        assert await send(a) == 1 and await send(b) == 1
        assert (
            mails_to(server, "pret@lieu-a.fr")[-1][0] == "Retour en retard : Vidéoprojecteur Epson"
        )
        assert mails_to(server, "accueil@lieu-b.fr")[-1][0] == (
            "Retour en retard : Vidéoprojecteur Epson"
        )
        assert await send(a) == 0 and await send(b) == 0

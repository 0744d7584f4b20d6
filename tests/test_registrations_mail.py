"""Notification mails of registrations, delivered to a real SMTP server (aiosmtpd): the
organiser is told of each registration (with what it decided and the participants it
opened) and of cancellations and promotions; the registrant of each answer, with its
position on the waiting list, and when seats freed confirm it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from node.mail.worker import send_due_mails

from .conftest import InProcessNode
from .coop_helpers import deliver, link, process, sync
from .mailserver import MailServer
from .network import network
from .registration_helpers import EMAIL, add_event, cancel, register
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


async def test_the_organiser_and_the_registrant_are_told_of_each_step(
    tmp_path: Path, server: MailServer
) -> None:
    per_node = {
        name: {
            key: value
            for key, value in mail_settings(server, notify_email=address).items()
            if key != "url"
        }
        for name, address in (("a", "ateliers@lieu-a.fr"), ("b", "accueil@lieu-b.fr"))
    }
    async with network(tmp_path, ["a", "b"], per_node=per_node) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        await link(a, "b")
        event = await add_event(a, "Atelier smartphone", capacity=2)
        await sync(b)
        first = (await register(b, event, seats=2))["id"]
        second = (await register(b, event, seats=1, participants=[]))["id"]
        await deliver(b)
        await process(a)
        assert await send(a) == 2
        [(subject, body), (subject_2, waiting_body)] = mails_to(server, "ateliers@lieu-a.fr")
        assert subject == subject_2 == "Nouvelle inscription : Atelier smartphone"
        assert "L'inscription est confirmée." in body
        assert EMAIL in body and "Deux animateurs de notre lieu." in body
        assert f"http://a.test/admin/registrations/{first}" in body
        assert "liste d'attente" in waiting_body and "Position dans la liste d'attente : 1" in (
            waiting_body
        )

        await deliver(a)
        assert await process(b) == 2
        assert await send(b) == 2
        subjects = [s for s, _ in mails_to(server, "accueil@lieu-b.fr")]
        assert subjects == [
            "Inscription confirmée : Atelier smartphone",
            "Inscription en liste d'attente : Atelier smartphone",
        ]
        waiting = mails_to(server, "accueil@lieu-b.fr")[1][1]
        assert "Position dans la liste d'attente : 1" in waiting
        assert f"http://b.test/admin/registrations/{second}" in waiting

        # The first cancels: the organiser is told, the second is promoted (both told).
        assert (await cancel(b, first)).status_code == 200
        await deliver(b)
        await process(a)
        assert await send(a) == 2
        assert [s for s, _ in mails_to(server, "ateliers@lieu-a.fr")][2:] == [
            "Inscription confirmée depuis la liste d'attente : Atelier smartphone",
            "Inscription annulée : Atelier smartphone",
        ]
        await deliver(a)
        await process(b)
        assert await send(b) == 1  # its own cancellation is not news to the registrant
        subject, body = mails_to(server, "accueil@lieu-b.fr")[-1]
        assert subject == "Inscription confirmée depuis la liste d'attente : Atelier smartphone"
        # Processed again: nothing is sent twice.
        await process(a, b)
        assert await send(a) == 0 and await send(b) == 0

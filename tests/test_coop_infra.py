"""The shared machinery of cooperation (node/cooperation/): steps addressed to this node
become tasks in the transaction that stores them, whatever path stores them; the worker
processes them in order, one at a time, and retries failures with backoff; a step's
entries and mails are committed together or not at all."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from federation.sealing import seal
from federation.timeutil import utc_now
from node.cooperation import processor, rows
from node.cooperation.session import Step, step
from node.cooperation.states import TaskState
from node.models import CoopTask
from node.services.log import publish
from node.store.cooperation import Task

from .conftest import InProcessNode
from .forger import Forger

CONTACT = {"contact": {"name": "Anne", "email": "anne@exemple.fr", "phone": ""}, "message": ""}


def loan_payload(lender: str, borrower: str, **changes: Any) -> dict[str, Any]:
    return {
        "equipment": f"{lender}/projo",
        "quantity": 1,
        "start": "2030-05-02",
        "end": "2030-05-03",
        "state": "requested",
        "sealed": seal(CONTACT, [lender, borrower]),
        **changes,
    }


async def tasks(papi: InProcessNode) -> list[CoopTask]:
    with papi.node.db.activated():
        return await CoopTask.all().order_by("id")


async def ingest(papi: InProcessNode, *documents: dict[str, Any]) -> Any:
    with papi.node.db.activated():
        return await papi.node.ingestor.ingest(list(documents), sender="tests")


async def test_a_step_addressed_to_this_node_becomes_a_task_when_stored(
    papi: InProcessNode,
) -> None:
    borrower = Forger()
    own = papi.node.origin
    other = Forger().origin
    report = await ingest(
        papi,
        borrower.write("place", "place"),
        borrower.write("loan", "for-us", loan_payload(own, borrower.origin)),
        borrower.write("loan", "for-another", loan_payload(other, borrower.origin)),
        borrower.write("skill", "s1"),
    )
    assert len(report.accepted) == 4
    [task] = await tasks(papi)
    assert (task.origin, task.seq, task.kind, task.oid) == (borrower.origin, 2, "loan", "for-us")
    assert task.state == TaskState.pending and task.attempts == 0
    # The same entry again (a duplicate) adds nothing.
    await ingest(papi, borrower.entry(2))
    assert len(await tasks(papi)) == 1


async def test_a_stripped_step_becomes_a_task_when_its_payload_is_repaired(
    papi: InProcessNode,
) -> None:
    borrower = Forger()
    borrower.write("place", "place")
    borrower.write("loan", "x", loan_payload(papi.node.origin, borrower.origin))
    await ingest(papi, borrower.entry(1), borrower.stripped(2))
    assert await tasks(papi) == []  # nothing to read yet: no task
    await ingest(papi, borrower.entry(2))  # the repair brings the payload
    [task] = await tasks(papi)
    assert (task.seq, task.kind) == (2, "loan")


async def test_a_step_rolled_back_leaves_no_entry_and_no_task(
    papi: InProcessNode,
) -> None:
    node = papi.node
    with node.db.activated():
        head = (await publish(node, "skill", "s1", "put", {"title": "Courriels"})).seq
        with pytest.raises(RuntimeError):
            async with step(node) as current:
                await current.publish("skill", "s2", "put", {"title": "Tableur"})
                # Our own request for our own item: addressed to us, so a task too.
                await current.publish("loan", "l1", "put", loan_payload(node.origin, node.origin))
                raise RuntimeError("the step fails after signing")
        async with in_transaction() as conn:
            entries = await conn.execute_query_dict(
                "SELECT seq FROM entries WHERE origin = ? ORDER BY seq", [node.origin]
            )
        assert entries[-1]["seq"] == head
    assert await tasks(papi) == []
    with node.db.activated():
        async with step(node) as current:
            await current.publish("loan", "l1", "put", loan_payload(node.origin, node.origin))
    [task] = await tasks(papi)
    assert (task.origin, task.kind, task.oid) == (node.origin, "loan", "l1")


def recording(seen: list[tuple[int, str]], fail: Callable[[Task], bool] = lambda t: False) -> Any:
    async def handler(current: Step, task: Task) -> None:
        seen.append((task.seq, task.oid))
        # What a handler signs is committed with the task, or not at all.
        await current.publish("skill", f"answer-{task.oid}", "put", {"title": task.oid})
        if fail(task):
            raise ValueError("handler failed")

    return handler


async def test_tasks_run_in_order_and_a_failure_is_retried_with_backoff(
    papi: InProcessNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    borrower = Forger()
    own = papi.node.origin
    await ingest(
        papi,
        borrower.write("place", "place"),
        *(borrower.write("loan", f"l{i}", loan_payload(own, borrower.origin)) for i in range(3)),
    )
    seen: list[tuple[int, str]] = []
    failing = {"l1"}
    monkeypatch.setattr(
        processor, "HANDLERS", {"loan": recording(seen, lambda t: t.oid in failing)}
    )
    now = utc_now()
    with papi.node.db.activated():
        assert await processor.process_due(papi.node, now=now) == 3
        async with in_transaction() as conn:
            found = await conn.execute_query_dict(
                "SELECT oid FROM objects WHERE origin = ? AND kind = 'skill'", [own]
            )
        answered = {row["oid"] for row in found}
    assert seen == [(2, "l0"), (3, "l1"), (4, "l2")]
    assert answered == {"answer-l0", "answer-l2"}  # l1's answer was rolled back
    states = {t.oid: t for t in await tasks(papi)}
    assert states["l0"].state == states["l2"].state == TaskState.done
    failed = states["l1"]
    assert failed.state == TaskState.pending and failed.attempts == 1
    assert "handler failed" in (failed.last_error or "")
    assert failed.next_attempt > now
    # Not due yet: nothing runs; once due, it runs again and succeeds.
    with papi.node.db.activated():
        assert await processor.process_due(papi.node, now=now) == 0
        failing.clear()
        assert await processor.process_due(papi.node, now=now + timedelta(hours=2)) == 1
    assert seen[-1] == (3, "l1")
    assert {t.state for t in await tasks(papi)} == {TaskState.done}


async def test_a_task_is_given_up_after_its_attempts_and_can_be_requeued(
    papi: InProcessNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    borrower = Forger()
    await ingest(
        papi,
        borrower.write("place", "place"),
        borrower.write("loan", "l0", loan_payload(papi.node.origin, borrower.origin)),
    )
    seen: list[tuple[int, str]] = []
    monkeypatch.setattr(processor, "HANDLERS", {"loan": recording(seen, lambda t: True)})
    monkeypatch.setattr(processor, "MAX_ATTEMPTS", 2)
    moment = utc_now()
    with papi.node.db.activated():
        for _ in range(2):
            assert await processor.process_due(papi.node, now=moment) == 1
            moment += timedelta(days=1)
        assert await processor.process_due(papi.node, now=moment) == 0
        [task] = await tasks(papi)
        assert task.state == TaskState.failed and task.attempts == 2
        assert [t.id for t in await rows.tasks_to_watch(papi.node.db.connection())] == [task.id]
        assert await rows.requeue_task(papi.node.db, task.id, moment)
        assert not await rows.requeue_task(
            papi.node.db, task.id, moment
        )  # pending now: nothing to do
        assert await processor.process_due(papi.node, now=moment) == 1
    assert len(seen) == 3


async def test_a_task_of_a_kind_without_handler_waits(
    papi: InProcessNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    borrower = Forger()
    await ingest(
        papi,
        borrower.write("place", "place"),
        borrower.write("loan", "l0", loan_payload(papi.node.origin, borrower.origin)),
    )
    monkeypatch.setattr(processor, "HANDLERS", {})
    with papi.node.db.activated():
        assert await processor.process_due(papi.node) == 0
    [task] = await tasks(papi)
    assert task.state == TaskState.pending and task.attempts == 0

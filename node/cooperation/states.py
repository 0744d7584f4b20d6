"""The lifecycle of a cooperation task (one ``coop_tasks`` row)."""

from __future__ import annotations

from enum import StrEnum

from federation.statemachine import Lifecycle


class TaskState(StrEnum):
    pending = "pending"
    done = "done"
    failed = "failed"  # given up after too many attempts; the operator may retry it


COOP_TASK = Lifecycle(
    "cooperation task",
    TaskState,
    {
        TaskState.pending: {
            "done": TaskState.done,
            # The handler raised: another attempt later (backoff).
            "retry": TaskState.pending,
            "give_up": TaskState.failed,
        },
        TaskState.failed: {"requeue": TaskState.pending},
    },
    initial=TaskState.pending,
)

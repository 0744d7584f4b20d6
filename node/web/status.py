"""What is wrong with this node, in plain words, each problem with what to do: the
findings of ``/admin/status``.

It reads what the node already knows, with the thresholds of ``papi doctor``: the disk
and the clock (``node_health``), the peers' rows, frozen origins, the catch-up of its own
log (``writes_waiting``), the last backup (``papi backup``'s record), the attachments'
quota. Messages are message ids (English, translated where shown)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from federation.timeutil import utc_now

from ..migrations import LATEST
from ..ops.backup import backup_overdue, last_backup
from ..ops.doctor import MAX_SKEW, MIN_FREE_BYTES
from ..runtime import Node
from ..services import blobs
from ..services.bootstrap import writes_waiting
from ..services.health import node_health
from ..services.peers import PeerState
from ..store import origins, peers
from ..version import software
from .formatting import format_moment
from .i18n import N_

#: Peers listed one by one; the others are counted.
MAX_PEERS_LISTED = 10
#: Frozen origins listed one by one.
MAX_FROZEN_LISTED = 5
#: Share of the attachments' quota from which the page warns.
QUOTA_WARNING = 0.9

FIX_DISK = N_(
    "Free some space: old backups, system logs (sudo journalctl --vacuum-size=100M). "
    "The node tries again by itself."
)
FIX_CLOCK = N_(
    "Set the time from the network: sudo timedatectl set-ntp true (a Raspberry Pi keeps "
    "no time while switched off: it needs the network when it starts)."
)
FIX_PEER = N_(
    "Check its address and this node's connection (papi peer list). The node keeps "
    "trying by itself, less and less often; papi sync tries at once."
)
FIX_BACKUP = N_(
    "Back up now with papi backup FILE, and every night with the papi-backup.timer "
    "(installation guide, step 9). Without a backup, a dead SD card loses the place's "
    "identity."
)


@dataclass(frozen=True)
class Problem:
    #: ``error``: the node cannot do its work; ``warning``: it can, but something needs care.
    level: str
    message: str
    fix: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Status:
    problems: list[Problem]
    #: What was looked at, shown when all is well too.
    facts: dict[str, Any]

    @property
    def errors(self) -> int:
        return sum(1 for problem in self.problems if problem.level == "error")


async def node_status(node: Node, language: str) -> Status:
    def moment(value: Any) -> str:
        return format_moment(value, language)

    problems: list[Problem] = []
    health = node_health(node)
    free = _disk(node, health["storage"], problems, moment)
    _clock(health["clock"], problems)
    peers_ok, peers_total = await _peers(node, problems, moment)
    await _frozen(node, problems, moment)
    await _own_log(node, problems)
    _backup(node, problems, moment)
    usage = await blobs.summary(node.db.connection(), node.settings.blob_quota_bytes)
    if usage["quota"] and usage["used"] >= QUOTA_WARNING * usage["quota"]:
        problems.append(
            Problem(
                "warning",
                N_("Attachments take %(used)s MB of their %(quota)s MB quota."),
                N_(
                    "Raise blob_quota_bytes in papi.toml if the disk allows it, or delete "
                    "the resources no longer needed."
                ),
                {"used": usage["used"] // 2**20, "quota": usage["quota"] // 2**20},
            )
        )
    last = last_backup(node.settings.data_dir)
    skew = health["clock"]["skew_seconds"]
    problems.sort(key=lambda problem: problem.level != "error")  # errors first, stable
    return Status(
        problems,
        {
            "software": software(),
            "schema": LATEST,
            "free_mb": None if free is None else free // 2**20,
            "peers_ok": peers_ok,
            "peers_total": peers_total,
            "skew": None if skew is None else round(skew),
            "last_backup": moment(last.created) if last else None,
        },
    )


def _disk(node: Node, storage: dict[str, Any], problems: list[Problem], moment: Any) -> int | None:
    free: int | None = storage["free_bytes"]
    error = storage["error"]
    if error is not None:
        problems.append(
            Problem(
                "error",
                N_("The disk was full on %(since)s: the node could not store what it received."),
                FIX_DISK,
                {"since": moment(error["since"])},
            )
        )
    if free is not None and free < node.settings.min_free_disk_bytes:
        problems.append(
            Problem(
                "error",
                N_("Only %(mb)s MB are left on the disk: the node no longer takes new data."),
                FIX_DISK,
                {"mb": free // 2**20},
            )
        )
    elif free is not None and free < MIN_FREE_BYTES:
        problems.append(
            Problem(
                "warning", N_("The disk is almost full: %(mb)s MB left."), FIX_DISK,
                {"mb": free // 2**20},
            )
        )  # fmt: skip
    return free


def _clock(clock: dict[str, Any], problems: list[Problem]) -> None:
    skew = clock["skew_seconds"]
    if skew is None:
        return
    if clock["problem"]:
        message = (
            N_("This node's clock is %(minutes)s minutes ahead of its peers': changes are "
               "refused until it is set right.")
            if skew > 0
            else N_("This node's clock is %(minutes)s minutes behind its peers': changes are "
                    "refused until it is set right.")
        )  # fmt: skip
        problems.append(Problem("error", message, FIX_CLOCK, {"minutes": round(abs(skew) / 60)}))
    elif abs(skew) > MAX_SKEW.total_seconds():
        problems.append(
            Problem(
                "warning",
                N_("This node's clock differs from its peers' by %(seconds)s seconds."),
                FIX_CLOCK,
                {"seconds": round(skew)},
            )
        )


async def _peers(node: Node, problems: list[Problem], moment: Any) -> tuple[int, int]:
    known = await peers.all_peers(node.db.connection())
    if not known:
        problems.append(
            Problem(
                "warning",
                N_("This node has no peer: it neither receives nor sends anything."),
                N_("Join the network: papi peer add followed by the address of a known node."),
            )
        )
        return 0, 0
    working = sum(1 for peer in known if peer.state == PeerState.ok)
    failing = [peer for peer in known if peer.state == PeerState.failing]
    # No peer answering cuts the node off: an error. Some: a warning each.
    level = "error" if working == 0 else "warning"
    for peer in failing[:MAX_PEERS_LISTED]:
        values = {
            "url": peer.url,
            "count": peer.consecutive_failures,
            "error": (peer.last_error or "")[:200],
        }
        if peer.last_success is not None:
            message = N_(
                "The peer %(url)s has been unreachable since %(since)s (%(count)s failed "
                "attempts; last error: %(error)s)."
            )
            values["since"] = moment(peer.last_success)
        else:
            message = N_(
                "The peer %(url)s has never answered since it was added on %(since)s "
                "(%(count)s failed attempts; last error: %(error)s)."
            )
            values["since"] = moment(peer.created)
        problems.append(Problem(level, message, FIX_PEER, values))
    if len(failing) > MAX_PEERS_LISTED:
        problems.append(
            Problem(
                level,
                N_("%(count)s more peers are unreachable."),
                N_("papi peer list shows them all."),
                {"count": len(failing) - MAX_PEERS_LISTED},
            )
        )
    return working, len(known)


async def _frozen(node: Node, problems: list[Problem], moment: Any) -> None:
    frozen = await origins.frozen(node.db.connection())
    if not frozen:
        return
    since = await origins.first_forks(node.db.connection())
    others = []
    for origin in frozen:
        if origin.id == node.origin:
            problems.append(
                Problem(
                    "error",
                    N_(
                        "Another version of this node's own log appeared: two machines use "
                        "the same key (a copy of the SD card?). Its peers froze it."
                    ),
                    N_(
                        "Stop the other machine: one node, one key. Then ask the network's "
                        "coordinator how to start again."
                    ),
                )
            )
        else:
            others.append(origin)
    for origin in others[:MAX_FROZEN_LISTED]:
        problems.append(
            Problem(
                "warning",
                N_(
                    "The place %(name)s (%(origin)s) is frozen here since %(since)s: two "
                    "different versions of its log were received. Its new entries are refused."
                ),
                N_(
                    "Nothing to repair on this node. Tell the network's coordinator: that "
                    "place must stop the machine that copies its key."
                ),
                {
                    "name": origin.name or "?",
                    "origin": origin.id,
                    "since": moment(since.get(origin.id) or origin.last_received),
                },
            )
        )


async def _own_log(node: Node, problems: list[Problem]) -> None:
    waiting = await writes_waiting(node)
    if waiting is None:
        return
    message = (
        N_("Restored from a backup: the node is catching up its own log from its peers and "
           "refuses changes until then.")
        if waiting == "restored"
        else N_("This node's log is empty while its key existed: it waits to get it back "
                "from its peers and refuses changes until then.")
    )  # fmt: skip
    problems.append(
        Problem(
            "warning",
            message,
            N_("Check that peers answer (papi peer list), then run papi sync. papi doctor "
               "says more."),
        )
    )  # fmt: skip


def _backup(node: Node, problems: list[Problem], moment: Any) -> None:
    max_days = node.settings.backup_max_age_days
    data_dir = node.settings.data_dir
    if not backup_overdue(data_dir, max_days, utc_now()):
        return
    last = last_backup(data_dir)
    if last is None:
        problems.append(Problem("warning", N_("No backup of this node is recorded."), FIX_BACKUP))
        return
    problems.append(
        Problem(
            "warning",
            N_("The last backup was made on %(when)s, more than %(days)s days ago."),
            FIX_BACKUP,
            {"when": moment(last.created), "days": max_days},
        )
    )

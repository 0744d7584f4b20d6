"""``/admin/reseau``: who is in the network (docs/protocol.md 16), as a person would see
it. Invite a place (a code to give), join a network (paste a code), the join requests
with a button to vouch, and the coordinator's view: members, who vouched for whom,
candidates refused, hidden places, and this node's blocklist. No JavaScript: each button
is a form (CSRF-checked); each change is a signed entry, or a row of the blocklist."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from federation.errors import FederationError
from federation.netguard import normalise_url

from ..i18n import Translatable
from ..runtime import node_of
from ..services.invitations import (
    InvitationError,
    create_invitation,
    join,
    join_requests,
)
from ..services.log import LogRecovering
from ..services.membership import overview
from ..services.reports import REASONS, file_report, recipients, reports_for
from ..services.vouches import check_origin, revoke, vouch
from .admin_base import admin_page, login_required, with_form
from .fields import FieldError
from .i18n import N_
from .sessions import flash
from .urls import path_for

#: Longest reason typed for a block or a revocation.
MAX_REASON = 2000


async def _page(
    request: Request,
    *,
    code: str = "",
    errors: dict[str, FieldError] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    node = node_of(request)
    conn = node.db.connection()
    view = await overview(conn, node.membership)
    mine = {v["subject"] for v in view["vouches"] if v["voucher"] == node.origin and
            not v["revoked"]}  # fmt: skip
    members = {m["id"] for m in view["members"]}
    return await admin_page(
        request,
        "admin/network.html",
        {
            "view": view,
            "origin": node.origin,
            "member": view["open"] or node.origin in members,
            "members_ids": members,
            "my_vouches": mine,
            "requests": await join_requests(conn),
            "reports": await reports_for(conn, node),
            "reason_labels": REASON_LABELS,
            "code": code,
            "can_invite": bool(node.settings.url) and not node.settings.pull_only,
            "errors": errors or {},
            "values": values or {},
        },
        status=status,
    )


@login_required
async def network_page(request: Request) -> Response:
    return await _page(request)


@login_required
@with_form
async def invite(request: Request, form: FormData) -> Response:
    try:
        invitation = await create_invitation(node_of(request))
    except InvitationError as exc:
        return await _page(
            request, errors={"invite": FieldError(exc.message, exc.values)}, status=409
        )
    return await _page(request, code=invitation.code())


@login_required
@with_form
async def join_network(request: Request, form: FormData) -> Response:
    code = str(form.get("code") or "")
    try:
        await join(node_of(request), code)
    except InvitationError as exc:
        errors = {"code": FieldError(exc.message, exc.values)}
        return await _page(request, errors=errors, values={"code": code}, status=400)
    flash(request, N_("Your request is sent. As soon as a member vouches for this place, the "
                      "network accepts its publications."))  # fmt: skip
    return RedirectResponse(path_for(request, "admin.network"), status_code=303)


async def _publishing(request: Request, work: Any, field: str) -> Response | None:
    try:
        await work
    except Translatable as exc:  # said in the visitor's language
        return await _page(request, errors={field: FieldError(exc.message, exc.values)}, status=400)
    except ValueError as exc:
        return await _page(request, errors={field: FieldError(str(exc))}, status=400)
    except LogRecovering:
        message = N_("This node is recovering its own publications from its peers: try again "
                     "after the synchronisation.")  # fmt: skip
        return await _page(request, errors={field: FieldError(message)}, status=409)
    except FederationError as exc:
        error = FieldError(N_("The server refused the form: %(detail)s"), {"detail": str(exc)})
        return await _page(request, errors={field: error}, status=409)
    return None


@login_required
@with_form
async def vouch_for(request: Request, form: FormData) -> Response:
    node = node_of(request)
    subject = str(form.get("origin") or "")
    failed = await _publishing(request, vouch(node, subject), "vouch")
    if failed is not None:
        return failed
    flash(request, N_("This place now vouches for %(origin)s: the network accepts it as soon "
                      "as it receives the vouch."), origin=subject.strip())  # fmt: skip
    return RedirectResponse(path_for(request, "admin.network"), status_code=303)


@login_required
@with_form
async def revoke_vouch(request: Request, form: FormData) -> Response:
    node = node_of(request)
    subject = str(form.get("origin") or "")
    reason = str(form.get("reason") or "")[:MAX_REASON]
    failed = await _publishing(request, revoke(node, subject, reason), "vouch")
    if failed is not None:
        return failed
    flash(request, N_("Vouch for %(origin)s withdrawn."), origin=subject.strip())
    return RedirectResponse(path_for(request, "admin.network"), status_code=303)


@login_required
@with_form
async def block(request: Request, form: FormData) -> Response:
    node = node_of(request)
    value = str(form.get("value") or "").strip()
    reason = str(form.get("reason") or "").strip()[:MAX_REASON]
    values = {"value": value, "reason": reason}
    errors: dict[str, FieldError] = {}
    kind = "origin" if value.startswith("ed25519:") else "endpoint"
    try:
        value = check_origin(value) if kind == "origin" else normalise_url(value)
    except ValueError:
        errors["value"] = FieldError(
            N_("Give the id of a place (ed25519:…) or the address of a node (https://…).")
        )
    if kind == "origin" and value == node.origin:
        errors["value"] = FieldError(N_("This node cannot block itself."))
    if not reason:
        errors["reason"] = FieldError(N_("Say why, for the other animators of the place."))
    if errors:
        return await _page(request, errors=errors, values=values, status=400)
    await node.membership.block(kind, value, reason)
    flash(request, N_("%(value)s is blocked on this node."), value=value)
    return RedirectResponse(path_for(request, "admin.network"), status_code=303)


@login_required
@with_form
async def unblock(request: Request, form: FormData) -> Response:
    node = node_of(request)
    kind = str(form.get("kind") or "")
    value = str(form.get("value") or "")
    if await node.membership.unblock(kind, value):
        flash(request, N_("%(value)s is no longer blocked."), value=value)
    return RedirectResponse(path_for(request, "admin.network"), status_code=303)


#: The reasons of a report, as the form shows them.
REASON_LABELS = {
    "illegal": N_("Illegal content"),
    "personal_data": N_("Personal data published without consent"),
    "wrong": N_("Wrong or misleading information"),
    "spam": N_("Advertising or spam"),
    "other": N_("Something else"),
}
assert set(REASON_LABELS) == set(REASONS)


async def _report_page(
    request: Request,
    target: str,
    errors: dict[str, FieldError] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    node = node_of(request)
    return await admin_page(
        request,
        "admin/report.html",
        {
            "target": target,
            "reasons": REASON_LABELS,
            "coordinated": len(recipients(node)) > 1,
            "errors": errors or {},
            "values": values or {},
        },
        status=status,
    )


@login_required
async def report_form(request: Request) -> Response:
    return await _report_page(request, request.query_params.get("objet", "")[:300])


@login_required
@with_form
async def report_send(request: Request, form: FormData) -> Response:
    target = str(form.get("objet") or "")[:300]
    reason = str(form.get("reason") or "")
    message = str(form.get("message") or "")
    values = {"reason": reason, "message": message}
    errors: dict[str, FieldError] = {}
    if reason not in REASON_LABELS:
        errors["reason"] = FieldError(N_("Choose a reason."))
    if len(message) > 1000:
        errors["message"] = FieldError(N_("At most 1,000 characters."))
    if not errors:
        failed = await _publishing(request, file_report(node_of(request), target, reason,
                                                        message), "report")  # fmt: skip
        if failed is None:
            flash(request, N_("The report is sent to the network's coordination."))
            return RedirectResponse(path_for(request, "admin.network"), status_code=303)
        errors["reason"] = FieldError(N_("This report could not be sent; check the object."))
    return await _report_page(request, target, errors, values, status=400)


def routes() -> list[Route]:
    page = "/admin/reseau"
    return [
        Route(page, network_page, methods=["GET"], name="admin.network"),
        Route(page + "/invitation", invite, methods=["POST"], name="admin.network.invite"),
        Route(page + "/rejoindre", join_network, methods=["POST"], name="admin.network.join"),
        Route(page + "/garantie", vouch_for, methods=["POST"], name="admin.network.vouch"),
        Route(page + "/retrait", revoke_vouch, methods=["POST"], name="admin.network.revoke"),
        Route(page + "/blocage", block, methods=["POST"], name="admin.network.block"),
        Route(page + "/deblocage", unblock, methods=["POST"], name="admin.network.unblock"),
        Route("/admin/signaler", report_form, methods=["GET"], name="admin.report"),
        Route("/admin/signaler", report_send, methods=["POST"], name="admin.report"),
    ]

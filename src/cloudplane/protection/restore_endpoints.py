"""``/api/v1/protection/restores`` and ``/api/v1/protection/verifications``."""

from __future__ import annotations

from fastapi import Request, Response, status

from cloudplane.audit.recorder import note_resource
from cloudplane.identity.dependencies import CurrentPrincipal, WriterPrincipal
from cloudplane.kit.deps import RuntimeDep, SessionDep
from cloudplane.kit.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    NotSupported,
    Unauthorized,
    error_responses,
)
from cloudplane.kit.idempotency import IdempotencyDep
from cloudplane.kit.pagination import ListParamsDep, Page, paginate, where_equal
from cloudplane.kit.routing import PrefixedRouter
from cloudplane.network.listing import AllProjectsQuery, ProjectQuery, list_scope
from cloudplane.protection import repository, restore_service
from cloudplane.protection.models import Restore, Verification
from cloudplane.protection.schemas import (
    RestoreAccepted,
    RestoreCreate,
    RestoreOut,
    VerificationAccepted,
    VerificationCreate,
    VerificationOut,
)
from cloudplane.protection.views import (
    restore_accepted,
    restore_out,
    verification_accepted,
    verification_out,
)

restore_router = PrefixedRouter(prefix="/api/v1/protection/restores", tags=["protection"])
verification_router = PrefixedRouter(prefix="/api/v1/protection/verifications", tags=["protection"])

_ACTION_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Conflict, NotSupported)


@restore_router.get("", responses=error_responses(Unauthorized, BadRequest))
async def list_restores(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    checkpoint_id: str | None = None,
    project_id: ProjectQuery = None,
    all_projects: AllProjectsQuery = False,
) -> Page[RestoreOut]:
    """Restores of the caller's project, newest first."""
    stmt = repository.scoped(Restore, project_id=list_scope(principal, project_id, all_projects))
    stmt = where_equal(stmt, (Restore.checkpoint_id, checkpoint_id))
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=Restore.id,
        sort_columns={"created_at": Restore.created_at, "updated_at": Restore.updated_at},
        params=params,
    )
    return Page(items=[restore_out(row) for row in rows], next_marker=next_marker)


@restore_router.post("", status_code=status.HTTP_202_ACCEPTED, responses=_ACTION_ERRORS)
async def create_restore(
    request: Request,
    response: Response,
    body: RestoreCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
    idempotency: IdempotencyDep,
) -> RestoreAccepted:
    """Restore an available checkpoint to new resources (in_progress → success | fail)."""
    restore, operation = await restore_service.create_restore(session, runtime, principal, body)
    note_resource(request, restore.id)
    accepted = restore_accepted(restore, operation.id)
    response.headers["Location"] = f"/api/v1/operations/{operation.id}"
    await idempotency.remember(
        status.HTTP_202_ACCEPTED, accepted, location=response.headers["Location"]
    )
    return accepted


@restore_router.get("/{restore_id}", responses=error_responses(Unauthorized, NotFound))
async def show_restore(
    restore_id: str, session: SessionDep, principal: CurrentPrincipal
) -> RestoreOut:
    """One restore with the status of each resource."""
    return restore_out(await restore_service.get_restore(session, principal, restore_id))


@verification_router.get("", responses=error_responses(Unauthorized, BadRequest))
async def list_verifications(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    checkpoint_id: str | None = None,
    project_id: ProjectQuery = None,
    all_projects: AllProjectsQuery = False,
) -> Page[VerificationOut]:
    """Verifications of the caller's project, newest first."""
    stmt = repository.scoped(
        Verification, project_id=list_scope(principal, project_id, all_projects)
    )
    stmt = where_equal(stmt, (Verification.checkpoint_id, checkpoint_id))
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=Verification.id,
        sort_columns={
            "created_at": Verification.created_at,
            "updated_at": Verification.updated_at,
        },
        params=params,
    )
    return Page(items=[verification_out(row) for row in rows], next_marker=next_marker)


@verification_router.post("", status_code=status.HTTP_202_ACCEPTED, responses=_ACTION_ERRORS)
async def create_verification(
    request: Request,
    response: Response,
    body: VerificationCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
    idempotency: IdempotencyDep,
) -> VerificationAccepted:
    """Recompute the checksums of an available checkpoint's data, per resource."""
    verification, operation = await restore_service.create_verification(
        session, runtime, principal, body
    )
    note_resource(request, verification.id)
    accepted = verification_accepted(verification, operation.id)
    response.headers["Location"] = f"/api/v1/operations/{operation.id}"
    await idempotency.remember(
        status.HTTP_202_ACCEPTED, accepted, location=response.headers["Location"]
    )
    return accepted


@verification_router.get("/{verification_id}", responses=error_responses(Unauthorized, NotFound))
async def show_verification(
    verification_id: str, session: SessionDep, principal: CurrentPrincipal
) -> VerificationOut:
    """One verification with the status of each resource."""
    verification = await restore_service.get_verification(session, principal, verification_id)
    return verification_out(verification)

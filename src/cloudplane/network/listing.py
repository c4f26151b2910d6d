"""Which projects a list covers, and the query parameters every networking list shares."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from cloudplane.identity.principal import Principal

ProjectQuery = Annotated[str | None, Query(description="Admins only: that project's.")]
AllProjectsQuery = Annotated[bool, Query(description="Admins only: every project's.")]
DeletedQuery = Annotated[bool, Query(description="Admins only: include deleted ones.")]
NameQuery = Annotated[str | None, Query(max_length=255)]


def list_scope(principal: Principal, project_id: str | None, all_projects: bool) -> str | None:
    """The project a list shows (None: every project). Only admins may widen or move it."""
    if principal.is_admin and all_projects:
        return None
    if principal.is_admin and project_id is not None:
        return project_id
    return principal.project_id


def with_deleted(principal: Principal, deleted: bool) -> bool:
    return deleted and principal.is_admin

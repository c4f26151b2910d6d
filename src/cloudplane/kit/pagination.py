"""Keyset pagination, sorting and the common list filters of API.md.

``GET /things?limit=50&marker=<id>&sort=created_at:desc`` answers ``{"items", "next_marker"}``.
The marker is the id of the last item of the previous page; pages are cut with a keyset
condition on ``(sort column, id)`` so page 1,000 costs what page 1 costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, tuple_
from sqlalchemy import Row as SqlRow
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import KeyedColumnElement

from cloudplane.kit.errors import BadRequest

T = TypeVar("T")
Row = TypeVar("Row")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_marker: str | None


@dataclass(frozen=True, slots=True)
class ListParams:
    limit: int
    marker: str | None
    sort_key: str
    descending: bool


async def list_params(
    limit: Annotated[int, Query(ge=1, le=1000, description="Items per page.")] = 50,
    marker: Annotated[
        str | None, Query(description="Id of the last item of the previous page.")
    ] = None,
    sort: Annotated[
        str,
        Query(
            pattern=r"^[a-z_]+(:(asc|desc))?$",
            description="`created_at`, `name` or `updated_at`, with `:asc` or `:desc`.",
        ),
    ] = "created_at:desc",
) -> ListParams:
    key, _, direction = sort.partition(":")
    return ListParams(limit=limit, marker=marker, sort_key=key, descending=direction != "asc")


ListParamsDep = Annotated[ListParams, Depends(list_params)]

Column = InstrumentedAttribute[Any] | KeyedColumnElement[Any]
"""A column to filter, sort or cut pages by: a mapped attribute, or a table column for
statements that are read as plain rows."""

SortColumns = dict[str, Column]


async def paginate(
    session: AsyncSession,
    stmt: Select[Row],
    *,
    id_column: Column,
    sort_columns: SortColumns,
    params: ListParams,
) -> tuple[Sequence[Row], str | None]:
    """One page of ``stmt`` (already filtered and scoped) and the marker of the next page.

    An unknown sort key or a marker that is not in the filtered set is 400 ``bad_request``.
    """
    page_stmt = await _page_statement(session, stmt, id_column, sort_columns, params)
    rows = (await session.scalars(page_stmt)).all()
    return _cut(rows, id_column, params)


async def paginate_rows(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    id_column: Column,
    sort_columns: SortColumns,
    params: ListParams,
) -> tuple[Sequence[SqlRow[Any]], str | None]:
    """``paginate`` for a statement of several columns (one of them ``id_column``): the page's
    rows as plain rows, for read paths that need no ORM instances."""
    page_stmt = await _page_statement(session, stmt, id_column, sort_columns, params)
    rows = (await session.execute(page_stmt)).all()
    return _cut(rows, id_column, params)


async def _page_statement(
    session: AsyncSession,
    stmt: Select[Any],
    id_column: Column,
    sort_columns: SortColumns,
    params: ListParams,
) -> Select[Any]:
    column = sort_columns.get(params.sort_key)
    if column is None:
        allowed = ", ".join(sorted(sort_columns))
        raise BadRequest(f"cannot sort by {params.sort_key!r}; use one of {allowed}")
    if params.marker is not None:
        marker_value = (
            await session.execute(
                stmt.with_only_columns(column).where(id_column == params.marker).limit(1)
            )
        ).first()
        if marker_value is None:
            raise BadRequest(f"marker {params.marker} is not in this list", marker=params.marker)
        stmt = stmt.where(_after(column, id_column, marker_value[0], params))
    order = (column.desc(), id_column.desc()) if params.descending else (column, id_column)
    return stmt.order_by(*order).limit(params.limit + 1)


def _cut(
    rows: Sequence[T], id_column: Column, params: ListParams
) -> tuple[Sequence[T], str | None]:
    if len(rows) <= params.limit:
        return rows, None
    page = rows[: params.limit]
    return page, str(getattr(page[-1], id_column.key))


def _after(
    column: Column,
    id_column: Column,
    value: Any,
    params: ListParams,
) -> Any:
    # A row-value comparison, not the equivalent OR of two conditions: every engine uses it as
    # a bound on the (…, sort column, id) index, so a page deep in the list costs what page 1
    # costs.
    key, after = tuple_(column, id_column), tuple_(value, params.marker)
    return key < after if params.descending else key > after


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching strings that start with ``prefix`` literally."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


def starts_with(column: Column, prefix: str) -> ColumnElement[bool]:
    """``column LIKE 'prefix%'`` with the prefix taken literally (``%`` and ``_`` escaped)."""
    return column.like(like_prefix(prefix), escape="\\")


def where_equal(stmt: Select[Row], *filters: tuple[Any, object | None]) -> Select[Row]:
    """Add ``column = value`` for every ``(column, value)`` whose value was given (not None)."""
    for column, value in filters:
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def timestamped_name_sorts(model: Any, name: Column) -> SortColumns:
    """The sort keys of API.md for a resource with timestamps and a name."""
    return {"created_at": model.created_at, "updated_at": model.updated_at, "name": name}

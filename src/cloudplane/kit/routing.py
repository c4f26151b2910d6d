"""The router every feature's endpoints hang on.

FastAPI asks each included router in turn whether a request is its own, and a router answers
by trying every one of its routes' patterns. With thirty routers, a request for the last one
first fails a few hundred regular expressions. ``PrefixedRouter`` answers "no" from its prefix
alone when the path lies outside it, which leaves the patterns to the router that owns the path.
"""

from __future__ import annotations

import functools

from fastapi import APIRouter
from starlette.routing import Match
from starlette.types import Scope


class PrefixedRouter(APIRouter):
    """An ``APIRouter`` that rejects paths outside its ``prefix`` without trying its routes.

    Only the prefix's literal start counts: ``/api/v1/projects/{project_id}/members`` rejects
    what does not start with ``/api/v1/projects/``.
    """

    @functools.cached_property
    def _literal_prefix(self) -> str:
        # Read at the first request, once every route is in place.
        return self.prefix.partition("{")[0]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        literal = self._literal_prefix
        if literal and not scope.get("path", "").startswith(literal):
            return Match.NONE, {}
        return super().matches(scope)

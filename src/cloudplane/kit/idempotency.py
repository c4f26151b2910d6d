"""``Idempotency-Key`` for creating POSTs.

A repeat with the same key and body (same user, within the TTL) replays the first answer and
creates nothing; the same key with a different body is 422. The stored answer is written in the
creating transaction, so it exists exactly when the resource does. Two requests racing with one
key meet at the unique constraint: the loser gets 409 and may retry to receive the replay.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.identity.dependencies import CurrentPrincipal
from cloudplane.kit.clock import utcnow
from cloudplane.kit.deps import RuntimeDep, SessionDep
from cloudplane.kit.errors import Conflict, ValidationFailed
from cloudplane.kit.idempotency_models import IdempotencyRecord


class IdempotentReplay(Exception):
    """Raised to answer with a stored response instead of running the endpoint again."""

    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__("replay")
        headers = {"Idempotent-Replayed": "true"}
        if record.location:
            headers["Location"] = record.location
        self.response = Response(
            content=record.response_body,
            status_code=record.status_code,
            media_type="application/json",
            headers=headers,
        )


class Idempotency:
    """What an endpoint calls to store its answer under the request's key (if it had one)."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        user_id: str,
        key: str | None,
        request_hash: str,
        ttl_s: float,
    ) -> None:
        self._session = session
        self._user_id = user_id
        self._key = key
        self._hash = request_hash
        self._ttl_s = ttl_s

    async def remember(
        self, status_code: int, body: BaseModel, *, location: str | None = None
    ) -> None:
        """Store the answer (and its ``Location``) for replay; no-op without a key."""
        if self._key is None:
            return
        now = utcnow()
        self._session.add(
            IdempotencyRecord(
                user_id=self._user_id,
                key=self._key,
                request_hash=self._hash,
                status_code=status_code,
                response_body=body.model_dump_json(),
                location=location,
                created_at=now,
                expires_at=now + timedelta(seconds=self._ttl_s),
            )
        )
        try:
            await self._session.flush()
        except IntegrityError as exc:
            raise Conflict(
                "another request with this Idempotency-Key is in progress; retry to get its answer"
            ) from exc


async def _request_hash(request: Request) -> str:
    raw = await request.body()
    try:
        canonical = json.dumps(json.loads(raw or b"null"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = raw.decode("latin-1")
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n{canonical}".encode())
    return digest.hexdigest()


async def get_idempotency(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=255,
            description="Makes a create safe to retry: a repeat replays the first answer.",
        ),
    ] = None,
) -> Idempotency:
    request_hash = await _request_hash(request)
    if idempotency_key is not None:
        record = await session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == principal.user_id,
                IdempotencyRecord.key == idempotency_key,
            )
        )
        if record is not None and record.expires_at <= utcnow():
            await session.delete(record)  # a key may be reused once its answer has expired
            await session.flush()
        elif record is not None:
            if record.request_hash != request_hash:
                raise ValidationFailed(
                    "this Idempotency-Key was used with a different request body",
                    field="header.Idempotency-Key",
                )
            raise IdempotentReplay(record)
    return Idempotency(
        session,
        user_id=principal.user_id,
        key=idempotency_key,
        request_hash=request_hash,
        ttl_s=runtime.settings.idempotency_ttl_s,
    )


def install_replay_handler(app: FastAPI) -> None:
    @app.exception_handler(IdempotentReplay)
    async def _replay(_request: Request, exc: IdempotentReplay) -> Response:
        return exc.response


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]

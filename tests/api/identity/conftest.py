"""Callers with each project role in the seeded ``demo`` project."""

from __future__ import annotations

import pytest
from tests.support.api import ApiSession
from tests.support.identity import user_with_role


@pytest.fixture
async def member(admin: ApiSession) -> ApiSession:
    """``mia``, a member (read/write) of demo."""
    return await user_with_role(admin, "mia", "member")


@pytest.fixture
async def reader(admin: ApiSession) -> ApiSession:
    """``rex``, a reader of demo."""
    return await user_with_role(admin, "rex", "reader")

"""Who is calling: the authenticated user, the project the credential is scoped to, and roles."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from cloudplane.identity.models import Role


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    username: str
    project_id: str
    roles: frozenset[Role]
    api_key_id: str | None = None
    credential: str = ""
    """``credential_fingerprint`` of the user's password hash when the principal was resolved:
    tokens issued for it carry this, and stop working once the password changes."""

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def can_write(self) -> bool:
        """Members and admins write; readers only read."""
        return Role.ADMIN in self.roles or Role.MEMBER in self.roles

    def issued_under(self, credential: str) -> bool:
        """Whether a token carrying ``credential`` was issued under the current password."""
        return hmac.compare_digest(self.credential, credential)

    def role_names(self) -> list[str]:
        return sorted(role.value for role in self.roles)

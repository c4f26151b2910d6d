"""Identity API bodies: tokens, projects, quotas, users, memberships and API keys.

Request bodies reject unknown fields (422), so a misspelt field is an error rather than a
silent no-op. PATCH bodies change only the fields they carry; ``null`` is accepted only where
the field itself may be empty (a user's ``email``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"
PROJECT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"
PASSWORD_MIN_LENGTH = 8

Username = Annotated[
    str,
    Field(
        pattern=USERNAME_PATTERN,
        description="2-64 characters: lower-case letters, digits, `.`, `_`, `-`; "
        "starts with a letter or digit.",
        examples=["alice"],
    ),
]
Password = Annotated[
    str,
    Field(min_length=PASSWORD_MIN_LENGTH, max_length=1024, description="At least 8 characters."),
]
Email = Annotated[str, Field(pattern=EMAIL_PATTERN, max_length=255, examples=["a@example.org"])]
ProjectName = Annotated[
    str,
    Field(
        pattern=PROJECT_NAME_PATTERN,
        description="1-64 characters: letters, digits, `.`, `_`, `-`; starts with a letter or "
        "digit. Unique among live projects.",
        examples=["web-team"],
    ),
]
Description = Annotated[str, Field(max_length=1024)]
QuotaLimit = Annotated[int, Field(ge=-1, strict=True, description="-1 means unlimited.")]
ProjectRole = Literal["member", "reader"]


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PatchBody(RequestBody):
    """A partial update: only the fields sent change; ``null`` only where ``nullable`` allows."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required_fields(self) -> Self:
        for name in self.model_fields_set - self.nullable:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, object]:
        """The fields the client sent, with their values."""
        return {name: getattr(self, name) for name in self.model_fields_set}


# Tokens


class TokenRequest(RequestBody):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    project_id: str | None = Field(
        default=None,
        description="The project to scope the token to. Default: the user's oldest membership "
        "in a live, enabled project; for an admin without memberships, the first such project "
        "by name.",
    )


class RefreshRequest(RequestBody):
    refresh_token: str = Field(min_length=1)


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime = Field(description="When the access token expires.")
    refresh_token: str
    refresh_expires_at: datetime = Field(description="When the refresh token expires.")
    project_id: str
    roles: list[str] = Field(examples=[["member"]])


class WhoAmIUser(BaseModel):
    id: str
    username: str
    email: str | None
    is_admin: bool


class WhoAmIProject(BaseModel):
    id: str
    name: str


class WhoAmI(BaseModel):
    user: WhoAmIUser
    project: WhoAmIProject
    roles: list[str]
    api_key_id: str | None = Field(description="The API key used, when it was one.")


# Projects and quotas


class ProjectCreate(RequestBody):
    name: ProjectName
    description: Description = ""
    enabled: bool = True


class ProjectUpdate(PatchBody):
    name: ProjectName | None = None
    description: Description | None = None
    enabled: bool | None = Field(
        default=None, description="A disabled project's tokens and keys stop working."
    )


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    enabled: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class QuotaValues(BaseModel):
    """One integer per quota resource."""

    servers: int
    vcpus: int
    ram_mb: int
    volumes: int
    volume_gb: int
    snapshots: int
    floating_ips: int
    networks: int
    plans: int
    checkpoints: int


class QuotaOut(BaseModel):
    project_id: str
    limits: QuotaValues = Field(description="-1 means unlimited.")
    in_use: QuotaValues = Field(description="Counted from the project's live rows.")


class QuotaUpdate(PatchBody):
    """A flat map of the limits to change; limits left out keep their value. Unknown keys: 422."""

    servers: QuotaLimit | None = None
    vcpus: QuotaLimit | None = None
    ram_mb: QuotaLimit | None = None
    volumes: QuotaLimit | None = None
    volume_gb: QuotaLimit | None = None
    snapshots: QuotaLimit | None = None
    floating_ips: QuotaLimit | None = None
    networks: QuotaLimit | None = None
    plans: QuotaLimit | None = None
    checkpoints: QuotaLimit | None = None

    def limits(self) -> dict[str, int]:
        """The limits the client sent."""
        return {name: int(getattr(self, name)) for name in self.model_fields_set}


# Users


class UserCreate(RequestBody):
    username: Username
    password: Password
    email: Email | None = None
    is_admin: bool = False


class UserUpdate(PatchBody):
    nullable: ClassVar[frozenset[str]] = frozenset({"email"})

    email: Email | None = Field(default=None, description="`null` clears it.")
    password: Password | None = None
    enabled: bool | None = Field(
        default=None, description="A disabled user cannot log in; their tokens and keys stop."
    )
    is_admin: bool | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    username: str
    email: str | None
    is_admin: bool
    enabled: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


# Memberships


class MembershipSet(RequestBody):
    role: ProjectRole


class MembershipOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    project_id: str
    user_id: str
    role: ProjectRole
    created_at: datetime
    updated_at: datetime


# API keys


class ApiKeyCreate(RequestBody):
    name: str = Field(min_length=1, max_length=64)
    expires_at: AwareDatetime | None = Field(
        default=None, description="RFC 3339 with a zone, in the future; absent means never."
    )


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    prefix: str = Field(description="Identifies the key in listings; not a secret.")
    project_id: str
    created_at: datetime
    expires_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str | None = Field(
        description="The secret, shown only in the creating answer; send it as "
        "`Authorization: Bearer <key>`. `null` in an `Idempotency-Key` replay, because the "
        "server keeps only a hash of it."
    )

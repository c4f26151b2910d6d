"""Checking plan and restore parameters against a provider's published schemas.

The schemas are pydantic models rendered as JSON Schema for clients; validating with the same
models means what the API publishes and what it enforces cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from cloudplane.kit.errors import NotFound, ValidationFailed
from cloudplane.protection.providers import build_providers
from cloudplane.protection.providers.base import Provider
from cloudplane.settings import Settings


def provider_by_id(settings: Settings, provider_id: str) -> Provider:
    """The provider ``provider_id``; 404 when there is none."""
    provider = build_providers(settings).get(provider_id)
    if provider is None:
        raise NotFound("provider", provider_id)
    return provider


def checked(model: type[BaseModel], value: dict[str, Any], *, field: str) -> BaseModel:
    """``value`` parsed by ``model``; 422 naming each bad field under ``field``."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        errors = [
            {
                "loc": [*field.split("."), *(str(part) for part in error["loc"])],
                "msg": error["msg"],
                "type": error["type"],
            }
            for error in exc.errors()
        ]
        raise ValidationFailed(
            f"{field} do not match the provider's schema", errors=errors
        ) from exc

"""The API-reference payload templates under ``payloads/``, loaded once and copied per use."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

PAYLOADS_DIR = Path(__file__).parent / "payloads"


@functools.cache
def _template(name: str) -> Any:
    return json.loads((PAYLOADS_DIR / f"{name}.json").read_text(encoding="utf-8"))


def payload(template: str, /, **fields: Any) -> dict[str, Any]:
    """A fresh copy of ``template`` with ``fields`` set on it."""
    body: dict[str, Any] = copy.deepcopy(_template(template))
    body.update(fields)
    return body


def version_document(name: str, base: str) -> dict[str, Any]:
    """A version-discovery document whose links point at ``base``."""
    text = json.dumps(_template(name)).replace("{base}", base)
    result: dict[str, Any] = json.loads(text)
    return result


def error_body(service: str, status: int, message: str | None = None) -> dict[str, Any]:
    """The error document ``service`` answers with for ``status``, optionally with ``message``."""
    body: dict[str, Any] = copy.deepcopy(_template("errors")[service][str(status)])
    if message is not None:
        if service == "network":
            body["NeutronError"]["message"] = message
        elif service == "image":
            body["message"] = f"{body['code']}\n\n{message}\n\n   "
        else:
            next(iter(body.values()))["message"] = message
    return body

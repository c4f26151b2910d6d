"""A JSON response for bodies that are already plain data.

FastAPI turns an endpoint's return value into JSON through its response model, validating it
on the way; for a body built from typed columns that only repeats what is known, and on a page
of a hundred servers it costs more than the query. An endpoint that returns ``JsonBody``
declares its model with ``response_model=`` (the OpenAPI document still describes it) and hands
over dicts shaped like that model. pydantic's own serialiser writes them, so the JSON is the
same as the model's: datetimes in ISO 8601 with ``Z``, enums as their values.
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from starlette.responses import Response


class JsonBody(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content)

"""Structured logging: JSON lines carrying the request id of the request being served.

cloudplane's own events go from structlog straight to a line on stderr: passing them through the
standard library's logging (a record per event, a handler, a formatter that copies the record)
cost about 50 µs an event in the API process, and every request logs one. Which events are
written is still decided by the standard library's logger levels. Other libraries' records
(uvicorn, taskiq, SQLAlchemy, httpx) go through the standard library, whose root handler renders
them with the same processors, so every line on stderr has the same shape.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import MutableMapping
from typing import Any

import structlog
from structlog.typing import Processor

from cloudplane.kit import request_context


def _add_request_id(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    request_id = request_context.current_request_id()
    if request_id:
        event.setdefault("request_id", request_id)
    return event


class StderrLineLogger:
    """Writes each rendered event as one line to the ``sys.stderr`` of the moment.

    Looked up per line, not kept, so that whoever replaces ``sys.stderr`` (a test capturing
    output, a daemon redirecting it) gets the lines. One lock keeps lines from threads whole.
    ``name`` is the module's, for ``add_logger_name``. The standard library's logger of that
    name (its level set on it or inherited from the root) decides which events are written,
    through ``structlog.stdlib.filter_by_level``, which asks for ``disabled`` and
    ``getEffectiveLevel``.
    """

    _lock = threading.Lock()

    def __init__(self, name: str) -> None:
        self.name = name
        self._levels = logging.getLogger(name)

    @property
    def disabled(self) -> bool:
        return self._levels.disabled

    def getEffectiveLevel(self) -> int:  # noqa: N802 - the standard library's name, asked for
        return self._levels.getEffectiveLevel()

    def msg(self, message: str) -> None:
        line = message + "\n"
        with self._lock:
            sys.stderr.write(line)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def _line_logger(name: str = "cloudplane", *_args: Any) -> StderrLineLogger:
    return StderrLineLogger(name)


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Render cloudplane's events and other libraries' records with one JSON (or console)
    renderer, at ``level`` and above."""
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_request_id,
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.NOTSET),
        logger_factory=_line_logger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """The logger of module ``name``; its events carry ``"logger": name``."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger

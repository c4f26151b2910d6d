"""How the client commands print: Rich tables for people, the API's JSON for programs.

``-f json`` prints the API's JSON unchanged (keys sorted, two-space indent, no colour), so it is
stable and machine-readable. A list printed as JSON has the API's page shape
``{"items": [...], "next_marker": ...}`` holding every item the command gathered.
Errors go to stderr as ``Error (code): message [request <id>]`` and exit with status 1.
"""

from __future__ import annotations

import enum
import functools
import io
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from cloudplane.cli.client.api import Page
from cloudplane.cli.client.errors import ClientError

P = ParamSpec("P")
R = TypeVar("R")

# Piped output is read by grep and friends: a wide console keeps one row on one line.
_PIPE_WIDTH = 250


class OutputFormat(enum.StrEnum):
    """The two ways a command prints what it got."""

    table = "table"
    json = "json"


FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="table for people, json (the API's own) for programs."),
]


@dataclass(frozen=True)
class Column:
    """One table column: a header and where its value comes from.

    ``key`` is a field name, a dotted path into nested objects (``fault.message``), or a function
    of the item.
    """

    header: str
    key: str | Callable[[dict[str, Any]], Any]

    def value(self, item: dict[str, Any]) -> Any:
        """The raw value of this column for ``item`` (``None`` when absent)."""
        if callable(self.key):
            return self.key(item)
        current: Any = item
        for part in self.key.split("."):
            if not isinstance(current, dict):
                return None
            current = current.get(part)
        return current


def show(renderable: RenderableType) -> None:
    """Print a Rich renderable on the current stdout (looked up per call, so redirection counts).

    On a terminal Rich sizes and colours it; into a pipe it is plain text, wide enough to keep
    a row on one line, without the padding Rich leaves at line ends.
    """
    if sys.stdout.isatty():
        Console(file=sys.stdout, highlight=False).print(renderable)
        return
    buffer = io.StringIO()
    Console(file=buffer, width=_PIPE_WIDTH, highlight=False, color_system=None).print(renderable)
    for line in buffer.getvalue().splitlines():
        typer.echo(line.rstrip())


def print_json(value: Any) -> None:
    """Print ``value`` as pretty JSON on stdout: sorted keys, no colour, a trailing newline."""
    typer.echo(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


def print_list(page: Page, columns: Sequence[Column], fmt: OutputFormat) -> None:
    """Print gathered list items as a table, or as the API's page JSON."""
    if fmt is OutputFormat.json:
        print_json({"items": page.items, "next_marker": page.next_marker})
        return
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in columns:
        table.add_column(column.header, overflow="fold")
    for item in page.items:
        table.add_row(*(Text(cell_text(column.value(item))) for column in columns))
    show(table)
    if page.next_marker:
        print_note(f"(more items after marker {page.next_marker})")


def print_resource(resource: dict[str, Any], fmt: OutputFormat) -> None:
    """Print one resource: every field as a ``Field | Value`` table, or the API's JSON."""
    if fmt is OutputFormat.json:
        print_json(resource)
        return
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("Field", no_wrap=True)
    table.add_column("Value", overflow="fold")
    for key, value in resource.items():
        table.add_row(Text(cell_text(key)), Text(cell_text(value)))
    show(table)


def print_rows(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str) -> None:
    """Print a small derived table (quota usage, operation events) for people."""
    table = Table(title=title, show_edge=False, pad_edge=False, box=None, header_style="bold")
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell_text(value)) for value in row))
    show(table)


def print_note(message: str) -> None:
    """Print a remark for people on stderr, so that stdout stays the command's result."""
    typer.echo(_printable(message), err=True)


def cell_text(value: Any) -> str:
    """Render one value for a table cell: blanks for null, compact JSON for structures."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _printable(value)
    if isinstance(value, list) and all(isinstance(entry, str | int | float) for entry in value):
        return _printable(", ".join(str(entry) for entry in value))
    if isinstance(value, dict | list):
        return _printable(json.dumps(value, sort_keys=True, ensure_ascii=False))
    return _printable(str(value))


def error_line(error: ClientError) -> str:
    """The one-line form of an error: ``Error (code): message [request <id>]``."""
    line = f"Error ({error.code}): {error.message}"
    if error.request_id:
        line += f" [request {error.request_id}]"
    return _printable(line)


def detail_lines(error: ClientError) -> list[str]:
    """Indented lines that explain an error further (field errors, state, quota figures)."""
    details = dict(error.details)
    field_errors = details.pop("errors", None)
    lines: list[str] = []
    if isinstance(field_errors, list):
        lines.extend(f"  - {_field_error(entry)}" for entry in field_errors)
    lines.extend(f"  {key}: {cell_text(value)}" for key, value in details.items() if value)
    return [_printable(line) for line in lines]


def print_error(error: ClientError) -> None:
    """Print an error and its details to stderr."""
    typer.echo(error_line(error), err=True)
    for line in detail_lines(error):
        typer.echo(line, err=True)


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command so a :class:`ClientError` is printed (see :func:`print_error`), exit 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ClientError as error:
            print_error(error)
            raise typer.Exit(1) from error

    return wrapper


def _field_error(entry: object) -> str:
    # API.md says details.errors "lists field paths and reasons" without naming the keys.
    if not isinstance(entry, dict):
        return str(entry)
    where = entry.get("field", entry.get("path", entry.get("loc")))
    if isinstance(where, list):
        where = ".".join(str(part) for part in where)
    reason = entry.get("reason", entry.get("message", entry.get("msg", "")))
    return f"{where}: {reason}" if where else str(reason or entry)


def _printable(text: str) -> str:
    # Names and messages come from other users; never let them drive the terminal.
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() or char == "\n" else "\ufffd" for char in text)

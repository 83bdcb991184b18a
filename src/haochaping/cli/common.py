"""What every command shares: the database from settings, a console, errors shown in Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from haochaping.clock import parse_iso, utcnow
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.errors import DomainError

console = Console()
err_console = Console(stderr=True)


def open_database() -> Database:
    settings = get_settings()
    return Database(settings.database_url, pool_size=2, echo=settings.echo_sql)


@contextmanager
def domain_errors() -> Iterator[None]:
    """Show a refusal as its code and Chinese message and exit 1, never as a traceback."""
    try:
        yield
    except DomainError as exc:
        err_console.print(f"[red]错误[/red] {escape(f'[{exc.code}]')} {escape(exc.message)}")
        if exc.details:
            err_console.print(exc.details)
        raise typer.Exit(1) from exc


def parse_now(value: str | None) -> datetime:
    """The ``--now`` option of a command: an ISO time, or the current time when not given."""
    if not value:
        return utcnow()
    try:
        return parse_iso(value)
    except ValueError as exc:
        raise typer.BadParameter(
            "请使用 ISO 时间，例如 2026-11-20T12:00:00+08:00", param_hint="--now"
        ) from exc


def progress_bar() -> Progress:
    """The progress bar of a long command, on stderr (stdout keeps the result)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
    )

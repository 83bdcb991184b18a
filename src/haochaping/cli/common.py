"""What every command shares: the database from settings, a console, errors shown in Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

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

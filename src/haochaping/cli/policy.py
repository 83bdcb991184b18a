"""Placeholder until this command group is written."""

import typer

app = typer.Typer(no_args_is_help=True)

"""Placeholder until the demo generator is written."""

import typer


def demo() -> None:
    """创建演示数据。"""
    raise typer.Exit(0)

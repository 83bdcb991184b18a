"""The officials' console: server-rendered pages under ``/console`` (login, password, home)."""

from __future__ import annotations

from pathlib import Path

from fastapi.staticfiles import StaticFiles

from haochaping.console.pages import router

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/console/static"


def static_files() -> StaticFiles:
    """The console's own stylesheet, served by the app (no CDN)."""
    return StaticFiles(directory=STATIC_DIR)


__all__ = ["STATIC_DIR", "STATIC_PATH", "router", "static_files"]

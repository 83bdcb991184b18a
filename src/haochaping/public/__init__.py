"""Public results pages (G1): scores, counts, rankings, rectification results and approved
bad-review texts of every region and organisation, under ``/public`` without a login."""

from __future__ import annotations

from pathlib import Path

from fastapi.staticfiles import StaticFiles

from haochaping.public.pages import STATIC_PATH, router

STATIC_DIR = Path(__file__).parent / "static"


def static_files() -> StaticFiles:
    """The public pages' own stylesheet, served by the app (no CDN)."""
    return StaticFiles(directory=STATIC_DIR)


__all__ = ["STATIC_DIR", "STATIC_PATH", "router", "static_files"]

"""Placards with each window's static QR code (ZZ, D2): one file per window of the hall, PNG
and PDF, and the code on the page is exactly segno's code of the window's signed address."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import segno
from PIL import Image
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from haochaping.catalog.models import Hall, Window
from haochaping.channels import placards, window_qr
from haochaping.cli import app as cli_app
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.errors import DomainError
from tests.factories import make_catalog


def read_matrix(image: Image.Image, box: placards.QrBox, size: int) -> list[list[bool]]:
    """The modules as printed: the colour at the centre of each module (True = dark)."""
    grey = image.convert("L")
    offset = box.border * box.scale
    return [
        [
            grey.getpixel(
                (
                    box.left + offset + col * box.scale + box.scale // 2,
                    box.top + offset + row * box.scale + box.scale // 2,
                )
            )
            < 128
            for col in range(size)
        ]
        for row in range(size)
    ]


def expected_matrix(url: str) -> list[list[bool]]:
    return [[bool(v) for v in row] for row in segno.make(url, error="m").matrix]


def test_png_placard_per_window_with_the_windows_code(session: Session, tmp_path: Path) -> None:
    make_catalog(session)
    made = placards.render_hall(session=session, hall_code="HALL-RA", out_dir=tmp_path, fmt="png")
    assert sorted(p.window_code for p in made) == ["W1", "W2"]
    assert sorted(f.name for f in tmp_path.iterdir()) == ["placard-W1.png", "placard-W2.png"]
    urls = set()
    for placard in made:
        assert placard.url.startswith(get_settings().public_base_url.rstrip("/") + "/w/")
        token = placard.url.rsplit("/", 1)[1]
        window = session.get(Window, window_qr.read_window_token(token))
        assert window is not None and window.code == placard.window_code
        urls.add(placard.url)
        with Image.open(placard.path) as image:
            assert image.size == placards.PAGE_SIZE
            wanted = expected_matrix(placard.url)
            assert read_matrix(image, placard.qr, len(wanted)) == wanted
            # Large enough to scan from a counter: at least 8 cm across at 150 dpi.
            assert len(wanted) * placard.qr.scale >= 470
    assert len(urls) == 2


def test_pdf_placards_are_one_a4_page_each_with_the_address(
    session: Session, tmp_path: Path
) -> None:
    make_catalog(session)
    made = placards.render_hall(session=session, hall_code="HALL-RA", out_dir=tmp_path, fmt="pdf")
    assert len(made) == 2
    for placard in made:
        data = placard.path.read_bytes()
        assert data.startswith(b"%PDF-")
        assert re.findall(rb"/Type /Page\b(?!s)", data) == [b"/Type /Page"]
        # The page is A4 at 150 dpi: 1240 x 1754 pixels = 595.2 x 841.92 points.
        assert b"/MediaBox [ 0 0 595.2 841.92 ]" in data
        assert placard.url.encode("utf-16-be") in data  # the PDF's subject
        # The page image (JPEG) still carries exactly the window's code.
        start = data.index(b"stream", data.index(b"/DCTDecode")) + len(b"stream\n")
        with Image.open(io.BytesIO(data[start : data.index(b"endstream", start)])) as image:
            assert image.size == placards.PAGE_SIZE
            wanted = expected_matrix(placard.url)
            assert read_matrix(image, placard.qr, len(wanted)) == wanted


def test_the_same_window_always_gets_the_same_code(session: Session, tmp_path: Path) -> None:
    make_catalog(session)
    first = placards.render_hall(session=session, hall_code="HALL-RA", out_dir=tmp_path / "a")
    second = placards.render_hall(session=session, hall_code="HALL-RA", out_dir=tmp_path / "b")
    assert [p.url for p in first] == [p.url for p in second]


def test_unknown_hall_empty_hall_and_bad_format_are_refused(
    session: Session, tmp_path: Path
) -> None:
    make_catalog(session)
    session.add(Hall(code="HALL-EMPTY", name="空大厅", region_code="450224"))
    session.flush()
    for hall, fmt, code in (
        ("NOPE", "png", "hall_not_found"),
        ("HALL-EMPTY", "png", "hall_has_no_windows"),
        ("HALL-RA", "gif", "placard_format_invalid"),
    ):
        with pytest.raises(DomainError) as info:
            placards.render_hall(
                session=session,
                hall_code=hall,
                out_dir=tmp_path,
                fmt=fmt,  # type: ignore[arg-type]
            )
        assert info.value.code == code


def test_cli_renders_the_halls_placards(
    committed_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HCP_DATABASE_URL", str(committed_db.engine.url.render_as_string(False)))
    get_settings.cache_clear()
    try:
        with committed_db.transaction() as session:
            make_catalog(session)
        runner = CliRunner()
        out = tmp_path / "out"
        result = runner.invoke(
            cli_app, ["qr", "placards", "--hall", "HALL-RA", "--out", str(out), "--format", "png"]
        )
        assert result.exit_code == 0, result.output
        assert sorted(f.name for f in out.iterdir()) == ["placard-W1.png", "placard-W2.png"]
        assert "W1号窗口" in result.output
        result = runner.invoke(cli_app, ["qr", "placards", "--hall", "NOPE", "--out", str(out)])
        assert result.exit_code == 1
        assert "hall_not_found" in result.output
    finally:
        get_settings.cache_clear()

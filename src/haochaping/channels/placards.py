"""Printable placards with each window's static QR code (ZZ, D2).

One A4 page per window (150 dpi, 1240 x 1754 pixels): title, hall, window name and number,
organisation, a large QR code (segno, error correction M) of the window's stable signed address
(``HCP_PUBLIC_BASE_URL/w/<token>``) and short instructions in Chinese. Drawn with Pillow; saved
as PNG, or as PDF (Pillow writes the page at 150 dpi, so it prints at A4 size). The address
is also printed under the code for anyone who cannot scan it, and put in the PDF's subject.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import segno
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.catalog.models import Hall
from haochaping.channels import window_qr
from haochaping.errors import DomainError, InvalidInput
from haochaping.policy import service as policy

PAGE_SIZE = (1240, 1754)
DPI = 150
QR_SIDE = 820
QR_TOP = 560
QR_BORDER = 4
QR_ERROR = "m"
FONT_PATHS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
)
Format = Literal["png", "pdf"]


@dataclass(frozen=True)
class QrBox:
    """Where the code sits on the page: its top-left corner and the size of one module."""

    left: int
    top: int
    scale: int
    border: int


@dataclass(frozen=True)
class Placard:
    window_code: str
    window_name: str
    url: str
    path: Path
    qr: QrBox


class FontMissing(DomainError):
    status_code = 500


def _font_path() -> Path:
    for candidate in FONT_PATHS:
        if candidate.exists():
            return candidate
    raise FontMissing(
        "placard_font_missing",
        "未找到中文字体，无法生成评价二维码牌。请安装 fonts-wqy-microhei（apt-get install "
        "fonts-wqy-microhei）后重试。",
    )


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(_font_path()), size)


def qr_image(url: str, scale: int) -> Image.Image:
    """The QR code of ``url`` as a black-and-white image with its quiet zone."""
    buffer = io.BytesIO()
    segno.make(url, error=QR_ERROR).save(buffer, kind="png", scale=scale, border=QR_BORDER)
    buffer.seek(0)
    with Image.open(buffer) as image:
        return image.convert("L")


def _centred(draw: ImageDraw.ImageDraw, y: int, text: str, size: int, fill: str = "#000") -> int:
    font = _font(size)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    width = right - left
    # Too long a line (a long hall name) shrinks until it fits the page's margins.
    while width > PAGE_SIZE[0] - 120 and size > 20:
        size -= 4
        font = _font(size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        width = right - left
    draw.text(((PAGE_SIZE[0] - width) // 2 - left, y), text, font=font, fill=fill)
    return int(y + (bottom - top) + size // 2)


def render_placard(
    *, window: window_qr.WindowInfo, url: str, late_rule: str
) -> tuple[Image.Image, QrBox]:
    """One window's placard as an RGB page, and where its code is."""
    page = Image.new("RGB", PAGE_SIZE, "white")
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, PAGE_SIZE[0], 200), fill="#b3261e")
    _centred(draw, 40, "政务服务“好差评”", 84, fill="#ffffff")
    y = _centred(draw, 240, "扫码评价 · 一事一评", 64)
    y = _centred(draw, y + 10, window.hall_name, 44)
    y = _centred(draw, y, f"{window.name}（{window.code}）", 60)
    _centred(draw, y, window.org_name, 44)
    modules = int(segno.make(url, error=QR_ERROR).symbol_size(scale=1, border=QR_BORDER)[0])
    scale = max(QR_SIDE // modules, 1)
    code = qr_image(url, scale)
    left = (PAGE_SIZE[0] - code.width) // 2
    page.paste(code, (left, QR_TOP))
    y = QR_TOP + code.height + 30
    for line in (
        "1. 用手机扫描上方二维码",
        "2. 输入办事时登记的手机号码，获取短信验证码",
        "3. 选择本次办理的事项，进行评价",
    ):
        y = _centred(draw, y, line, 40)
    y = _centred(draw, y + 10, late_rule, 32, fill="#333333")
    y = _centred(draw, y, "您的个人信息严格保密，工作人员看不到是谁作出的评价", 32, fill="#333333")
    _centred(draw, PAGE_SIZE[1] - 70, url, 24, fill="#555555")
    return page, QrBox(left=left, top=QR_TOP, scale=scale, border=QR_BORDER)


def _late_rule(session: Session, hall_code: str) -> str:
    region = session.scalar(select(Hall.region_code).where(Hall.code == hall_code))
    profile = policy.profile_for_region(session=session, region_code=region or "")
    window = profile.supplementary_window
    if window is None:
        return "现场未评价的，可在评价期限内扫码补充评价"
    return f"现场未评价的，可在办理之日起{window.describe()}内扫码补充评价"


def _file_name(code: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in code)
    return f"placard-{safe or 'window'}"


def render_hall(
    *,
    session: Session,
    hall_code: str,
    out_dir: Path,
    fmt: Format = "pdf",
    progress: Callable[[str], None] | None = None,
) -> list[Placard]:
    """A placard file per window of the hall in ``out_dir`` (``placard-<window code>.png``
    or ``.pdf``); ``hall_not_found`` for an unknown hall, ``hall_has_no_windows`` for one
    without windows."""
    if fmt not in ("png", "pdf"):
        raise InvalidInput("placard_format_invalid", "输出格式只能是 pdf 或 png")
    windows = window_qr.hall_windows(session=session, hall_code=hall_code)
    if not windows:
        raise InvalidInput("hall_has_no_windows", f"大厅“{hall_code}”下没有窗口，无需生成二维码牌")
    late_rule = _late_rule(session, hall_code)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput("placard_out_dir_invalid", f"无法创建输出目录 {out_dir}：{exc}") from exc
    made = []
    for window in windows:
        url = window_qr.window_url(window.id)
        page, box = render_placard(window=window, url=url, late_rule=late_rule)
        path = out_dir / f"{_file_name(window.code)}.{fmt}"
        try:
            if fmt == "png":
                page.save(path, "PNG", dpi=(DPI, DPI))
            else:
                page.save(
                    path,
                    "PDF",
                    resolution=float(DPI),
                    title=f"{window.hall_name} {window.name} 评价二维码",
                    subject=url,
                    quality=95,
                )
        except OSError as exc:
            raise InvalidInput("placard_write_failed", f"无法写入 {path}：{exc}") from exc
        made.append(
            Placard(window_code=window.code, window_name=window.name, url=url, path=path, qr=box)
        )
        if progress is not None:
            progress(window.code)
    return made

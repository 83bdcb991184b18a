"""Charts of a bulletin as PNG images (matplotlib's Agg backend, used through its canvas class:
no pyplot, so no global figure state and no display needed), with Chinese text in a CJK font
found among the installed ones.

The font: WenQuanYi Micro Hei at its Debian path first (``fonts-wqy-microhei``), then any
installed font of a known CJK family. When none is installed the charts are still drawn, with
a warning in the log: their Chinese labels then show as empty boxes.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from matplotlib import font_manager, rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from haochaping.statistics.schemas import LabelShare, RankedUnit, TrendPoint

log = logging.getLogger(__name__)

PREFERRED_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
CJK_FAMILIES = (
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "AR PL UKai CN",
)
DPI = 150
BAR = "#2F5597"
LINE = "#C00000"
GREY = "#A6A6A6"
# Colours of the five levels, 非常满意 (5) to 非常不满意 (1).
LEVEL_COLOURS = {5: "#2E7D32", 4: "#7CB342", 3: "#FBC02D", 2: "#F57C00", 1: "#C62828"}


@cache
def cjk_font() -> str | None:
    """The family name of an installed CJK font, or None (warned once)."""
    if PREFERRED_FONT.is_file():
        try:
            font_manager.fontManager.addfont(str(PREFERRED_FONT))
            return font_manager.FontProperties(fname=str(PREFERRED_FONT)).get_name()
        except (OSError, RuntimeError, ValueError):
            log.warning("无法加载字体文件 %s，改为在已安装字体中查找中文字体", PREFERRED_FONT)
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in installed:
            return family
    log.warning("未找到中文字体（建议安装 fonts-wqy-microhei），通报图表中的中文将无法正常显示")
    return None


@contextmanager
def _style() -> Iterator[None]:
    family = cjk_font()
    families = [family, "DejaVu Sans"] if family else ["DejaVu Sans"]
    with (
        rc_context(
            {
                "font.family": "sans-serif",
                "font.sans-serif": families,
                "axes.unicode_minus": False,
                "axes.spines.top": False,
                "axes.spines.right": False,
                "font.size": 9,
            }
        ),
        warnings.catch_warnings(),
    ):
        if family is None:
            # Without a CJK font every Chinese glyph would warn; the log said it once.
            warnings.filterwarnings("ignore", message="Glyph .* missing from")
        yield


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _empty(axes: Axes, text: str = "本期无数据") -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes, color=GREY)
    axes.set_xticks([])
    axes.set_yticks([])


def trend_chart(points: Sequence[TrendPoint], title: str) -> bytes:
    """Evaluations per day (bars, bad reviews in red) and the day's average score (line)."""
    with _style():
        figure = Figure(figsize=(7.2, 3.4), layout="constrained")
        axes = figure.add_subplot()
        axes.set_title(title)
        if not points or not any(p.evaluations for p in points):
            _empty(axes)
            return _png(figure)
        days = [p.day[5:] for p in points]
        xs = list(range(len(points)))
        axes.bar(xs, [p.evaluations for p in points], color=BAR, label="评价数")
        axes.bar(xs, [p.bad for p in points], color=LINE, label="差评数")
        axes.set_ylabel("评价数（条）")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        step = max(1, len(xs) // 10)
        axes.set_xticks(xs[::step], days[::step])
        score = axes.twinx()
        score.spines["right"].set_visible(True)
        averaged = [
            (x, p.average) for x, p in zip(xs, points, strict=True) if p.average is not None
        ]
        score.plot(
            [x for x, _ in averaged],
            [a for _, a in averaged],
            color="#ED7D31",
            marker="o",
            markersize=3,
            label="平均得分",
        )
        score.set_ylim(0, 10.5)
        score.set_ylabel("平均得分（分）")
        handles, labels = axes.get_legend_handles_labels()
        more, more_labels = score.get_legend_handles_labels()
        axes.legend(handles + more, labels + more_labels, loc="upper left", fontsize=8)
        return _png(figure)


def levels_chart(levels: dict[int, int], names: dict[int, str], title: str) -> bytes:
    """How many evaluations of each level, 非常满意 to 非常不满意."""
    with _style():
        figure = Figure(figsize=(7.2, 3.0), layout="constrained")
        axes = figure.add_subplot()
        axes.set_title(title)
        order = sorted(names, reverse=True)
        counts = [levels.get(level, 0) for level in order]
        total = sum(counts)
        if not total:
            _empty(axes)
            return _png(figure)
        bars = axes.bar(
            [names[level] for level in order],
            counts,
            color=[LEVEL_COLOURS.get(level, BAR) for level in order],
        )
        axes.bar_label(bars, labels=[f"{n}（{n / total:.1%}）" for n in counts], fontsize=8)
        axes.set_ylabel("评价数（条）")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.margins(y=0.18)
        return _png(figure)


def units_chart(rows: Sequence[RankedUnit], title: str, *, limit: int = 15) -> bytes:
    """Average and shrunk score of the ranked units (best on top), at most ``limit`` of them."""
    ranked = [r for r in rows if r.ranked and r.average is not None][:limit]
    with _style():
        height = 1.2 + 0.32 * max(len(ranked), 3)
        figure = Figure(figsize=(7.2, height), layout="constrained")
        axes = figure.add_subplot()
        axes.set_title(title)
        if not ranked:
            _empty(axes, "本期无达到排名条件的单位")
            return _png(figure)
        ranked = sorted(ranked, key=lambda r: r.shrunk or 0.0)
        ys = list(range(len(ranked)))
        axes.barh(
            [y + 0.2 for y in ys],
            [r.average or 0.0 for r in ranked],
            0.4,
            color=GREY,
            label="平均得分",
        )
        bars = axes.barh(
            [y - 0.2 for y in ys],
            [r.shrunk or 0.0 for r in ranked],
            0.4,
            color=BAR,
            label="修正得分",
        )
        axes.bar_label(bars, labels=[f"{r.shrunk or 0.0:.2f}" for r in ranked], fontsize=7)
        axes.set_yticks(
            ys, [_short(f"{r.name}（{r.group}）" if r.group else r.name) for r in ranked]
        )
        axes.set_xlim(0, 10.8)
        axes.set_xlabel("得分（分）")
        axes.legend(loc="lower right", fontsize=8)
        return _png(figure)


def labels_chart(labels: Sequence[LabelShare], title: str, *, limit: int = 10) -> bytes:
    """The problems raters pointed at most (B4 labels), G3."""
    shown = sorted(labels, key=lambda s: (-s.evaluations, s.code))[:limit]
    with _style():
        figure = Figure(figsize=(7.2, 1.2 + 0.32 * max(len(shown), 3)), layout="constrained")
        axes = figure.add_subplot()
        axes.set_title(title)
        if not shown:
            _empty(axes)
            return _png(figure)
        shown.reverse()
        ys = list(range(len(shown)))
        bars = axes.barh(ys, [s.evaluations for s in shown], color=LINE)
        axes.bar_label(bars, labels=[str(s.evaluations) for s in shown], fontsize=8)
        axes.set_yticks(ys, [_short(f"{s.group}·{s.name}" if s.group else s.name) for s in shown])
        axes.set_xlabel("选择次数")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        return _png(figure)


def _short(text: str, length: int = 22) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"

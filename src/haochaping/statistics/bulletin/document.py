"""The bulletin (通报, G2) as a Word document, laid out like a government 公文 (GB/T 9704 in
spirit): title in 宋体 二号, body in 仿宋 三号 at a fixed 28 pt line pitch, first-level headings
in 黑体, second-level in 楷体, charts as PNG pictures with numbered captions.

Sections: 一、总体情况 (figures against the previous period, trend and level charts);
二、排名情况 (the fair ranking's rule, the best and the last ranked units of each comparable
group, with charts); 三、重点关注对象 (F6 focus objects and overdue work orders);
四、典型差评及整改 (bad reviews as published after the text review, E1, and what was done);
五、工作要求. A note on the data closes the document.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from typing import Final

from docx.document import Document as DocxDocument
from docx.enum.text import WD_LINE_SPACING, WD_PARAGRAPH_ALIGNMENT
from docx.shared import Cm, Length, Pt
from docx.text.paragraph import Paragraph

from haochaping.statistics.bulletin import charts
from haochaping.statistics.bulletin.content import Bulletin, DimensionSection
from haochaping.statistics.schemas import DIMENSION_NAMES, Dimension, RankedUnit, UnitMetrics
from haochaping.workorders.documents import (
    BODY_FONT,
    HEADING_FONT,
    SIZE_ER,
    SIZE_SAN,
    SIZE_XIAOSI,
    TITLE_FONT,
    new_document,
    set_fonts,
)

KAITI: Final = "楷体"
LINE_PITCH: Final = Pt(28)
PICTURE_WIDTH: Final = Cm(15.5)

SECTIONS: Final = (
    "一、总体情况",
    "二、排名情况",
    "三、重点关注对象",
    "四、典型差评及整改",
    "五、工作要求",
)
# The dimensions whose best and last units the document names (the workbook has them all).
RANKED_IN_TEXT: Final = (Dimension.region, Dimension.org, Dimension.window)
NAMED_PER_END: Final = 3
CHINESE_NUMBERS: Final = "一二三四五六七八九十"


# --- formatting of figures -----------------------------------------------------------------------


def score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def _ordinal(index: int) -> str:
    """（一）, （二）… for 1, 2…"""
    if index <= 10:
        return f"（{CHINESE_NUMBERS[index - 1]}）"
    tens, units = divmod(index, 10)
    head = ("" if tens == 1 else CHINESE_NUMBERS[tens - 1]) + "十"
    return f"（{head}{CHINESE_NUMBERS[units - 1] if units else ''}）"


def _count_change(cmp: str, current: int, prior: int, unit: str) -> str:
    if current > prior:
        return f"{cmp}增加{current - prior}{unit}"
    if current < prior:
        return f"{cmp}减少{prior - current}{unit}"
    return "与上期持平"


def _score_change(cmp: str, current: float | None, prior: float | None) -> str:
    if current is None or prior is None:
        return "上期无可比数据"
    delta = round(current - prior, 2)
    if delta > 0:
        return f"{cmp}提高{delta:.2f}分"
    if delta < 0:
        return f"{cmp}降低{-delta:.2f}分"
    return "与上期持平"


def _rate_change(cmp: str, current: float | None, prior: float | None) -> str:
    if current is None or prior is None:
        return "上期无可比数据"
    delta = round((current - prior) * 100, 2)
    if delta > 0:
        return f"{cmp}上升{delta:.2f}个百分点"
    if delta < 0:
        return f"{cmp}下降{-delta:.2f}个百分点"
    return "与上期持平"


def place(region: str, org: str, window: str) -> str:
    """融安县公安局W1号窗口, not 融安县融安县公安局…: an organisation's name usually starts with
    its region's."""
    where = org if org.startswith(region) else f"{region}{org}"
    return where + window


# --- docx helpers --------------------------------------------------------------------------------


def _new_document(bulletin: Bulletin) -> DocxDocument:
    doc = new_document(
        bulletin.title,
        bulletin.issuer or "",
        (3.7, 3.5, 2.8, 2.6),
        subject="政务服务“好差评”情况通报",
        body_size=SIZE_SAN,
    )
    doc.core_properties.keywords = "好差评；通报"
    return doc


def _paragraph(
    doc: DocxDocument,
    text: str = "",
    *,
    font: str = BODY_FONT,
    size: Length = SIZE_SAN,
    bold: bool = False,
    indent: bool = True,
    align: WD_PARAGRAPH_ALIGNMENT = WD_PARAGRAPH_ALIGNMENT.JUSTIFY,
    pitch: Length | None = LINE_PITCH,
) -> Paragraph:
    paragraph = doc.add_paragraph()
    fmt = paragraph.paragraph_format
    if pitch is not None:
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = pitch
    if indent:
        fmt.first_line_indent = Pt(32)
    paragraph.alignment = align
    if text:
        run = paragraph.add_run(text)
        set_fonts(run._element.get_or_add_rPr(), font)
        run.font.size = size
        if bold:
            run.bold = True
    return paragraph


def _title(doc: DocxDocument, text: str) -> None:
    paragraph = _paragraph(
        doc,
        text,
        font=TITLE_FONT,
        size=SIZE_ER,
        bold=True,
        indent=False,
        align=WD_PARAGRAPH_ALIGNMENT.CENTER,
        pitch=Pt(36),
    )
    paragraph.paragraph_format.space_after = Pt(18)


def _heading(doc: DocxDocument, text: str) -> None:
    _paragraph(doc, text, font=HEADING_FONT)


def _subheading(doc: DocxDocument, text: str) -> None:
    _paragraph(doc, text, font=KAITI)


class _Figures:
    """Numbered pictures: 图1, 图2…"""

    def __init__(self, doc: DocxDocument) -> None:
        self.doc = doc
        self.count = 0

    def add(self, png: bytes, caption: str) -> None:
        self.count += 1
        picture = self.doc.add_paragraph()
        picture.alignment = WD_PARAGRAPH_ALIGNMENT.CENTER
        picture.paragraph_format.space_before = Pt(6)
        picture.add_run().add_picture(io.BytesIO(png), width=PICTURE_WIDTH)
        _paragraph(
            self.doc,
            f"图{self.count}　{caption}",
            size=SIZE_XIAOSI,
            indent=False,
            align=WD_PARAGRAPH_ALIGNMENT.CENTER,
            pitch=None,
        ).paragraph_format.space_after = Pt(6)


# --- sections ------------------------------------------------------------------------------------


def render(bulletin: Bulletin) -> bytes:
    """The bulletin as .docx bytes."""
    doc = _new_document(bulletin)
    figures = _Figures(doc)
    _title(doc, bulletin.title)
    children = bulletin.section(Dimension.region)
    addressees = "各有关地区、各有关单位：" if children and children.rows else "各有关单位："
    _paragraph(doc, addressees, indent=False)
    _paragraph(
        doc,
        "为贯彻落实《国务院办公厅关于建立政务服务“好差评”制度提高政务服务水平的意见》"
        "（国办发〔2019〕51号），定期通报“好差评”结果，推动差评整改落实，"
        f"现将{bulletin.period.label}{bulletin.area}政务服务“好差评”情况通报如下：",
    )
    _overall(doc, bulletin, figures)
    _rankings(doc, bulletin, figures)
    _focus(doc, bulletin)
    _typical(doc, bulletin, figures)
    _requirements(doc, bulletin)
    _signature(doc, bulletin)
    _data_note(doc, bulletin)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def summary_sentences(bulletin: Bulletin) -> list[str]:
    """The figures of 一、总体情况, as sentences."""
    now: UnitMetrics = bulletin.current.unit
    before = bulletin.prior
    cmp = bulletin.compared_to
    lead = f"{bulletin.period.label}，{bulletin.area}"
    if not now.evaluations:
        first = f"{lead}暂无评价数据。"
    else:
        first = (
            f"{lead}共产生评价{now.evaluations}条，其中主动评价{now.active.evaluations}条、"
            f"默认评价{now.default.evaluations}条，"
            f"{_count_change(cmp, now.evaluations, before.evaluations, '条')}；"
            f"平均得分{score(now.average)}分，{_score_change(cmp, now.average, before.average)}；"
            f"差评{now.bad}条，差评率{percent(now.bad_rate)}，"
            f"{_rate_change(cmp, now.bad_rate, before.bad_rate)}；"
            f"主动评价率{percent(now.active_rate)}，评价覆盖率{percent(now.coverage)}；"
            f"“基本满意”及以下评价占{percent(now.low_share)}。"
        )
    orders = now.work_orders
    second = (
        f"本期共受理差评工单{orders.opened}件，已办结{orders.closed}件，"
        f"其中按期办结{orders.on_time}件；超期{orders.overdue}件；"
        f"整改完成{orders.rectified}件，申诉撤销成立{orders.upheld}件；"
        f"实名差评{orders.real_name}件，已回访{orders.revisited}件，"
        f"回访率{percent(orders.revisit_rate)}。"
    )
    return [first, second]


def _overall(doc: DocxDocument, bulletin: Bulletin, figures: _Figures) -> None:
    _heading(doc, SECTIONS[0])
    for sentence in summary_sentences(bulletin):
        _paragraph(doc, sentence)
    figures.add(
        charts.trend_chart(bulletin.current.trend, f"{bulletin.period.label}每日评价情况"),
        f"{bulletin.period.label}{bulletin.area}每日评价数与平均得分",
    )
    figures.add(
        charts.levels_chart(bulletin.current.unit.levels, bulletin.level_names, "评价等级分布"),
        f"{bulletin.period.label}{bulletin.area}评价等级分布",
    )


def _by_group(rows: Sequence[RankedUnit]) -> dict[str, list[RankedUnit]]:
    groups: dict[str, list[RankedUnit]] = {}
    for row in rows:
        if row.ranked and row.rank is not None:
            groups.setdefault(row.group, []).append(row)
    for members in groups.values():
        members.sort(key=lambda r: r.rank or 0)
    return groups


def _names(rows: Sequence[RankedUnit]) -> str:
    return "、".join(f"{r.name}（{score(r.shrunk)}分）" for r in rows)


def ranking_sentences(section: DimensionSection, minimum: int) -> list[str]:
    """The best and last ranked units of each comparable group of one dimension."""
    title = section.title
    groups = _by_group(section.ranking.items)
    unranked = sum(1 for r in section.ranking.items if not r.ranked)
    if not groups:
        return [f"本期各{title}评价数均未达到{minimum}条，暂不排名。"]
    result = []
    for group in sorted(groups):
        members = groups[group]
        size = len(members)
        best_count = min(NAMED_PER_END, (size + 1) // 2)
        worst_count = min(NAMED_PER_END, size - best_count)
        best = members[:best_count]
        worst = members[size - worst_count :] if worst_count else []
        label = f"{group}组" if group else title
        text = f"{label}共{size}个参与排名，排名靠前的是{_names(best)}"
        text += f"；排名靠后的是{_names(worst)}。" if worst else "。"
        result.append(text)
    if unranked:
        result.append(f"另有{unranked}个{title}本期评价数不足{minimum}条，未参与排名。")
    return result


def _rankings(doc: DocxDocument, bulletin: Bulletin, figures: _Figures) -> None:
    _heading(doc, SECTIONS[1])
    _paragraph(
        doc,
        "排名在同层级地区、同层级同条线部门等可比单位之间进行。" + bulletin.explanation,
    )
    index = 0
    for dimension in RANKED_IN_TEXT:
        section = bulletin.section(dimension)
        if section is None or not section.rows:
            continue
        index += 1
        _subheading(doc, f"{_ordinal(index)}{section.title}排名")
        for sentence in ranking_sentences(section, bulletin.supervision.ranking_min_evaluations):
            _paragraph(doc, sentence)
        if any(r.ranked for r in section.ranking.items):
            figures.add(
                charts.units_chart(section.ranking.items, f"{section.title}修正得分"),
                f"{bulletin.period.label}{section.title}平均得分与修正得分",
            )
    if index == 0:
        _paragraph(doc, "本期无可排名的下级地区、部门和窗口。")


def _focus(doc: DocxDocument, bulletin: Bulletin) -> None:
    _heading(doc, SECTIONS[2])
    supervision = bulletin.supervision
    _subheading(doc, "（一）重点关注对象")
    _paragraph(
        doc,
        f"按照“基本满意”以下评价较集中的列为重点测评对象的要求，将本期“基本满意”及以下评价占比"
        f"达到{supervision.focus_share:.0%}（评价数不少于{supervision.focus_min_evaluations}条），"
        f"以及连续{supervision.bottom_periods}个月处于可比组后{supervision.bottom_n}名的"
        "工作人员、窗口、部门、业务条线、服务事项和地区列为重点关注对象：",
    )
    entries = [entry for section in bulletin.sections for entry in section.focus]
    if not entries:
        _paragraph(doc, "本期无列为重点关注的对象。")
    for number, entry in enumerate(entries, start=1):
        _paragraph(
            doc,
            f"{number}．{entry.name}（{DIMENSION_NAMES[entry.dimension]}）："
            f"{entry.detail}，本期评价{entry.evaluations}条，平均得分{score(entry.average)}分。",
        )
    _subheading(doc, "（二）差评工单超期情况")
    overdue = bulletin.overdue
    if not overdue:
        _paragraph(doc, "本期无超期差评工单。")
        return
    open_orders = sum(1 for o in overdue if not o.closed)
    by_org = Counter(o.org for o in overdue)
    orgs = "、".join(
        f"{org}{n}件" for org, n in sorted(by_org.items(), key=lambda x: (-x[1], x[0]))
    )
    _paragraph(
        doc,
        f"本期共有超期差评工单{len(overdue)}件，其中尚未办结{open_orders}件，涉及{orgs}。"
        "工单明细见通报附表“超期工单”。",
    )


def _typical(doc: DocxDocument, bulletin: Bulletin, figures: _Figures) -> None:
    _heading(doc, SECTIONS[3])
    if not bulletin.typical:
        _paragraph(doc, "本期暂无经审核可公开的差评内容。")
    else:
        _paragraph(
            doc,
            f"从本期经审核可公开的差评中选取{len(bulletin.typical)}件，将差评内容和整改情况通报如下"
            "（评价人信息依法保密，不予公开）：",
        )
    for index, review in enumerate(bulletin.typical, start=1):
        where = place(review.region, review.org, review.window)
        item = f"办理“{review.item}”事项时，" if review.item else ""
        complaint = []
        if review.labels:
            complaint.append(f"反映问题：{'、'.join(review.labels)}")
        if review.text:
            complaint.append(f"评价内容：“{review.text}”")
        found = f"经核实，{review.verdict}" if review.verdict else "目前正在核实"
        if review.cause:
            found += f"，差评原因属“{review.cause}”"
        handled = (
            f"整改措施：{review.measures.rstrip('。')}。"
            if review.measures.strip()
            else "整改措施尚未提交。"
        )
        if review.resolution:
            handled += f"处理方式：{review.resolution}。"
        _subheading(doc, f"{_ordinal(index)}{where}差评件")
        _paragraph(
            doc,
            f"{review.rated_at.year}年{review.rated_at.month}月{review.rated_at.day}日，"
            f"办事群众在{where}{item}给予“{review.level_name}”评价，"
            f"{'；'.join(complaint)}。{found}。{handled}目前该工单{review.state}。",
        )
    if bulletin.current.labels:
        figures.add(
            charts.labels_chart(bulletin.current.labels, "评价标签选择情况"),
            f"{bulletin.period.label}{bulletin.area}评价人反映问题分布",
        )


def _requirements(doc: DocxDocument, bulletin: Bulletin) -> None:
    _heading(doc, SECTIONS[4])
    items = (
        (
            "（一）抓好问题整改。",
            "对本通报中排名靠后的单位和重点关注对象，各有关地区、部门要通过回访等方式找准问题根源，"
            "制定整改措施，明确责任人和完成时限，于收到本通报之日起15日内将整改情况书面报送"
            "本级政务服务监督管理部门。对长期评价挂末、经督导无明显改善的窗口工作人员，要限期调换。",
        ),
        (
            "（二）加快办理差评工单。",
            "差评工单要在规定时限内完成核实、整改和反馈，做到差评件件有整改、有反馈；"
            "对已超期的工单逐件明确办结时限，实名差评要百分之百回访。",
        ),
        (
            "（三）确保评价真实客观。",
            "各级政务服务机构不得弄虚作假刷“好评”，不得强迫、暗示或干扰办事企业和群众评价，"
            "经查实的将依纪依规严肃处理。",
        ),
        (
            "（四）严格保护评价人信息。",
            "评价人信息严格保密，未经本人同意不得向第三方提供。",
        ),
        (
            "（五）用好评价结果。",
            "将“好差评”结果作为窗口单位和窗口工作人员年度考核、政务服务专项绩效考评的重要内容，"
            "把差评反映的问题作为优化办事流程、调整办事指南、加强窗口作风建设的重要参考。",
        ),
    )
    for heading, text in items:
        paragraph = _paragraph(doc)
        for part, font in ((heading, KAITI), (text, BODY_FONT)):
            run = paragraph.add_run(part)
            set_fonts(run._element.get_or_add_rPr(), font)
            run.font.size = SIZE_SAN


def _signature(doc: DocxDocument, bulletin: Bulletin) -> None:
    _paragraph(doc)
    if bulletin.issuer:
        _paragraph(doc, bulletin.issuer, indent=False, align=WD_PARAGRAPH_ALIGNMENT.RIGHT)
    day = bulletin.generated_at
    _paragraph(
        doc,
        f"{day.year}年{day.month}月{day.day}日",
        indent=False,
        align=WD_PARAGRAPH_ALIGNMENT.RIGHT,
    )


def _data_note(doc: DocxDocument, bulletin: Bulletin) -> None:
    _paragraph(doc)
    _paragraph(
        doc,
        "数据说明：统计范围为"
        f"{bulletin.region_name}（{bulletin.region_code}）及其下级地区，统计周期为"
        f"{bulletin.period.label}（北京时间），对比周期为{bulletin.previous.label}。"
        "平均得分为全部直接评价的平均分（非各单位平均分的平均）；默认评价与主动评价分列统计；"
        "经申诉撤销的差评不计入得分和排名。典型差评仅引用经审核公开的评价内容。"
        f"数据生成于{bulletin.generated_at:%Y-%m-%d %H:%M}。",
        size=SIZE_XIAOSI,
        pitch=None,
    )

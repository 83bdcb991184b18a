"""Word documents of a bad-review work order (F5): the transfer registration form and the
investigation and rectification report, generated in code with python-docx.

RA is the Rong'an county procedure (融政监管字〔2021〕2号,
融安县政务服务中心差评办件处理办法（试行）):

* RA Art.5: for a bad review pushed by the system the office (县政管办) fills in the
  差评办件转办登记表 (附件4) and transfers it to the window; the window answers within
  2 working days with a 差评办件调查整改报告 (附件5) approved by its head.
* 附件4 is reproduced as a bordered table with the original's rows and merged cells;
  the office's name replaces the template's "县政管办".
* 附件5 is reproduced as its title, the opening paragraph, the four headed sections
  (一、申请人基本情况 二、服务人员接待情况 三、调查处理情况 四、整改措施) and the closing
  政府信息公开选项 line.

The caller passes plain strings, already formatted and, where the reader may not see personal
data, already masked; this module never touches the database. An empty string still prints its
labelled empty cell, so a blank form can be printed and filled in by hand.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_ROW_HEIGHT_RULE, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_LINE_SPACING, WD_PARAGRAPH_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.shared import Cm, Length, Pt
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from docx.text.run import Run

DOCX_MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# File name stem per document kind (F5; RA 附件4, 附件5).
_FILENAME_STEMS: Final[dict[str, str]] = {
    "transfer": "转办登记表",
    "report": "调查整改报告",
}

TRANSFER_TITLE: Final = "差评办件转办登记表"
REPORT_TITLE_TEMPLATE: Final = "关于{case_no}差评办件调查整改报告"
# The template's short name for the office, used when the caller leaves office_name empty.
DEFAULT_OFFICE_LABEL: Final = "县政管办"
EMPTY_LIST_LINE: Final = "（无）"
REPORT_SECTIONS: Final = (
    "一、申请人基本情况",
    "二、服务人员接待情况",
    "三、调查处理情况",
    "四、整改措施",
)
SOURCE_KIND_LABELS: Final[dict[int, str]] = {
    1: "现场投诉差评件",
    2: "“好差评”系统推送差评件",
}
CHECKED: Final = "☑"
UNCHECKED: Final = "☐"

# Fonts: titles in 宋体 (方正小标宋 is not installed everywhere), headings in 黑体,
# body in 仿宋; Latin letters and digits in Times New Roman.
TITLE_FONT: Final = "宋体"
HEADING_FONT: Final = "黑体"
BODY_FONT: Final = "仿宋"
LATIN_FONT: Final = "Times New Roman"
SYMBOL_FONT: Final = "Segoe UI Symbol"

# Chinese type sizes: 二号 22 pt, 三号 16 pt, 小四 12 pt, 五号 10.5 pt.
SIZE_ER: Final = Pt(22)
SIZE_SAN: Final = Pt(16)
SIZE_XIAOSI: Final = Pt(12)
SIZE_WU: Final = Pt(10.5)

A4_WIDTH: Final = Cm(21.0)
A4_HEIGHT: Final = Cm(29.7)

# 附件4 grid: a label column and six columns that the 调查人/调查对象/电话 row uses one by one.
_FORM_COLUMNS_CM: Final = (2.4, 1.9, 2.3, 2.2, 2.3, 2.2, 2.7)


@dataclass(frozen=True)
class TransferForm:
    """差评办件转办登记表 (F5; RA Art.5, 附件4); every field is an already-formatted string."""

    order_no: str  # 工单编号, printed in a small line above the table
    rater_name: str  # 评价人姓名, masked by the caller when needed
    rater_gender: str  # 性别, '' when unknown
    rated_at: str  # 评价时间, e.g. '2026年9月30日 10:15'
    contact: str  # 联系方式, masked by the caller when needed
    case_no: str  # 办理编号
    item_name: str  # 办理事项
    transferred_at: str  # 转办时间
    source_kind: int  # 差评类型: 1 现场投诉差评件, 2 “好差评”系统推送差评件, 0 not ticked
    complaint: str  # 差评内容 (level name, labels, text)
    signed_by: str  # 县政管办签收记录: 签收人
    signed_at: str  # 县政管办签收记录: 签收时间
    investigator: str  # 调查人
    investigated: str  # 调查对象
    investigated_phone: str  # 电话
    measures: str  # 采取措施
    satisfied: str  # 调查结果是否满意: '是', '否' or ''
    leader_opinion: str  # 分管领导意见
    office_name: str  # e.g. '融安县政务服务监督管理办公室', replaces the template's 县政管办


@dataclass(frozen=True)
class InvestigationReport:
    """差评办件调查整改报告 (F5; RA Art.5, 附件5); strings already formatted and masked."""

    order_no: str  # 工单编号, printed in a small line above the title
    case_no: str  # 办件编号, in the title 关于{case_no}差评办件调查整改报告
    occurred_on: str  # e.g. '2026年9月30日'
    window_name: str  # e.g. '不动产登记业务窗口'
    level_name: str  # 不满意 / 非常不满意, quoted in the opening paragraph
    applicant_line: str  # the whole 申请人… sentence, prepared (masked) by the caller
    item_name: str  # 办理事项
    case_serial: str  # 申办流水号
    complaint: str  # 评价内容
    reception: list[str]  # 二、服务人员接待情况, one entry per numbered line
    investigation: list[str]  # 三、调查处理情况, one entry per numbered line
    measures: list[str]  # 四、整改措施, one entry per numbered line
    disclosure: str = "主动公开"  # 政府信息公开选项


def document_filename(kind: str, order_no: str) -> str:
    """File name of a work order's document: 'transfer' (附件4) or 'report' (附件5) (F5)."""
    try:
        stem = _FILENAME_STEMS[kind]
    except KeyError:
        raise ValueError(f"unknown document kind: {kind!r}") from None
    return f"{stem}-{order_no}.docx"


# --- shared formatting helpers -------------------------------------------------------------


def set_fonts(rpr: BaseOxmlElement, east_asia: str, latin: str = LATIN_FONT) -> None:
    """Set w:rFonts on an rPr element, dropping theme fonts that would win over w:eastAsia."""
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(theme), None)
    rfonts.set(qn("w:ascii"), latin)
    rfonts.set(qn("w:hAnsi"), latin)
    rfonts.set(qn("w:cs"), latin)
    rfonts.set(qn("w:eastAsia"), east_asia)


def new_document(
    title: str,
    author: str,
    margins_cm: tuple[float, float, float, float],
    *,
    subject: str = "差评办件处理",
    body_size: Length = SIZE_XIAOSI,
) -> DocxDocument:
    """An A4 document whose defaults are 仿宋 in simplified Chinese, single spacing, no gaps
    (also the bulletins' base, statistics/bulletin/document.py)."""
    doc = Document()
    section = doc.sections[0]
    section.page_width = A4_WIDTH
    section.page_height = A4_HEIGHT
    top, bottom, left, right = margins_cm
    section.top_margin = Cm(top)
    section.bottom_margin = Cm(bottom)
    section.left_margin = Cm(left)
    section.right_margin = Cm(right)

    defaults = doc.styles.element.find(qn("w:docDefaults"))
    if defaults is not None:
        rpr = defaults.find(f"{qn('w:rPrDefault')}/{qn('w:rPr')}")
        if rpr is not None:
            set_fonts(rpr, BODY_FONT)
            lang = rpr.find(qn("w:lang"))
            if lang is not None:
                lang.set(qn("w:eastAsia"), "zh-CN")

    normal = doc.styles["Normal"]
    set_fonts(normal.element.get_or_add_rPr(), BODY_FONT)
    normal.font.size = body_size
    fmt = normal.paragraph_format
    fmt.space_before = Pt(0)
    fmt.space_after = Pt(0)
    fmt.line_spacing_rule = WD_LINE_SPACING.SINGLE

    props = doc.core_properties
    props.title = title
    props.subject = subject
    props.author = author
    props.last_modified_by = author
    props.comments = ""
    props.language = "zh-CN"
    return doc


def _add_run(
    paragraph: Paragraph,
    text: str,
    *,
    font: str = BODY_FONT,
    size: Length | None = None,
    bold: bool = False,
) -> Run:
    run = paragraph.add_run(text)
    set_fonts(run._element.get_or_add_rPr(), font)
    if size is not None:
        run.font.size = size
    if bold:
        run.bold = True
    return run


def _add_check(paragraph: Paragraph, checked: bool, size: Length) -> None:
    """A tick box; its glyph comes from a symbol font, since 仿宋 has no ☑/☐."""
    run = _add_run(paragraph, CHECKED if checked else UNCHECKED, size=size)
    set_fonts(run._element.get_or_add_rPr(), SYMBOL_FONT, latin=SYMBOL_FONT)


def _add_title(doc: DocxDocument, text: str) -> None:
    paragraph = doc.add_paragraph()
    paragraph.alignment = WD_PARAGRAPH_ALIGNMENT.CENTER
    paragraph.paragraph_format.space_before = Pt(6)
    paragraph.paragraph_format.space_after = Pt(12)
    _add_run(paragraph, text, font=TITLE_FONT, size=SIZE_ER, bold=True)


def _add_order_line(doc: DocxDocument, order_no: str) -> None:
    paragraph = doc.add_paragraph()
    _add_run(paragraph, f"工单编号：{order_no}", size=SIZE_WU)


def _to_bytes(doc: DocxDocument) -> bytes:
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


# --- 附件4 差评办件转办登记表 ----------------------------------------------------------------


def _add_borders(table: Table) -> None:
    """Single 0.5 pt borders on every edge and inner line of the table."""
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        line = OxmlElement(f"w:{edge}")
        line.set(qn("w:val"), "single")
        line.set(qn("w:sz"), "4")
        line.set(qn("w:space"), "0")
        line.set(qn("w:color"), "000000")
        borders.append(line)
    table._tbl.tblPr.insert_element_before(
        borders,
        "w:shd",
        "w:tblLayout",
        "w:tblCellMar",
        "w:tblLook",
        "w:tblCaption",
        "w:tblDescription",
        "w:tblPrChange",
    )


def _write_cell(
    cell: _Cell,
    text: str,
    *,
    center: bool = False,
    top: bool = False,
) -> None:
    """Replace the cell's text; each line of the text becomes a paragraph."""
    cell.vertical_alignment = (
        WD_CELL_VERTICAL_ALIGNMENT.TOP if top else WD_CELL_VERTICAL_ALIGNMENT.CENTER
    )
    lines = text.split("\n")
    first = cell.paragraphs[0]
    for index, line in enumerate(lines):
        paragraph = first if index == 0 else cell.add_paragraph()
        if center:
            paragraph.alignment = WD_PARAGRAPH_ALIGNMENT.CENTER
        if line:
            _add_run(paragraph, line, size=SIZE_XIAOSI)


def _label(cell: _Cell, text: str) -> None:
    _write_cell(cell, text, center=True)


def transfer_form_docx(form: TransferForm) -> bytes:
    """The 差评办件转办登记表 of a work order as .docx bytes (F5; RA Art.5, 附件4).

    Rows follow the original: 评价人姓名/性别/评价时间; 联系方式/办理编号; 办理事项/转办时间;
    差评内容 (the two types, one ticked, then the content); 县政管办签收记录; 差评办件调查处理情况
    (调查人/调查对象/电话, 采取措施, 调查结果是否满意); 分管领导意见.
    """
    if form.source_kind not in (0, *SOURCE_KIND_LABELS):
        raise ValueError(f"unknown source kind: {form.source_kind!r}")
    office = form.office_name or DEFAULT_OFFICE_LABEL
    doc = new_document(TRANSFER_TITLE, form.office_name, (2.5, 2.5, 2.5, 2.5))
    _add_title(doc, TRANSFER_TITLE)
    _add_order_line(doc, form.order_no)

    table = doc.add_table(rows=10, cols=len(_FORM_COLUMNS_CM))
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    _add_borders(table)
    for column, width_cm in zip(table.columns, _FORM_COLUMNS_CM, strict=True):
        column.width = Cm(width_cm)
    for row in table.rows:
        row.height = Cm(1.1)
        row.height_rule = WD_ROW_HEIGHT_RULE.AT_LEAST
        for cell, width_cm in zip(row.cells, _FORM_COLUMNS_CM, strict=True):
            cell.width = Cm(width_cm)
    for row_index, height_cm in ((4, 3.5), (5, 2.0), (7, 4.5), (9, 3.5)):
        table.rows[row_index].height = Cm(height_cm)

    def at(row: int, col: int) -> _Cell:
        found: _Cell = table.cell(row, col)
        return found

    def span(row: int, first: int, last: int) -> _Cell:
        merged: _Cell = at(row, first).merge(at(row, last))
        return merged

    # Row 0: 评价人姓名 | name | 性别 | gender | 评价时间 | time
    _label(at(0, 0), "评价人姓名")
    _write_cell(span(0, 1, 2), form.rater_name, center=True)
    _label(at(0, 3), "性别")
    _write_cell(at(0, 4), form.rater_gender, center=True)
    _label(at(0, 5), "评价时间")
    _write_cell(at(0, 6), form.rated_at, center=True)

    # Rows 1-2: 联系方式 | contact | 办理编号 | case; 办理事项 | item | 转办时间 | time
    for row, (left, left_value, right, right_value) in enumerate(
        (
            ("联系方式", form.contact, "办理编号", form.case_no),
            ("办理事项", form.item_name, "转办时间", form.transferred_at),
        ),
        start=1,
    ):
        _label(at(row, 0), left)
        _write_cell(span(row, 1, 2), left_value, center=True)
        _label(at(row, 3), right)
        _write_cell(span(row, 4, 6), right_value, center=True)

    # Rows 3-4: 差评内容 spans the type line and the content.
    _label(at(3, 0).merge(at(4, 0)), "差评内容")
    kinds = span(3, 1, 6)
    kinds.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    kinds_paragraph = kinds.paragraphs[0]
    _add_run(kinds_paragraph, "差评类型：", size=SIZE_XIAOSI)
    for number, label in SOURCE_KIND_LABELS.items():
        if number > 1:
            _add_run(kinds_paragraph, "　　", size=SIZE_XIAOSI)
        _add_check(kinds_paragraph, form.source_kind == number, SIZE_XIAOSI)
        _add_run(kinds_paragraph, f"{number}.{label}", size=SIZE_XIAOSI)
    _write_cell(span(4, 1, 6), form.complaint, top=True)

    # Row 5: 县政管办签收记录 | 签收人：…  签收时间：…
    _label(at(5, 0), f"{office}签收记录")
    signed = span(5, 1, 6)
    signed.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.BOTTOM
    signed_paragraph = signed.paragraphs[0]
    _add_run(signed_paragraph, "签收人：", size=SIZE_XIAOSI)
    _add_run(signed_paragraph, form.signed_by or "　" * 6, size=SIZE_XIAOSI)
    _add_run(signed_paragraph, "　　　　签收时间：", size=SIZE_XIAOSI)
    _add_run(signed_paragraph, form.signed_at, size=SIZE_XIAOSI)

    # Rows 6-8: 差评办件调查处理情况 spans 调查人…, 采取措施 and 调查结果是否满意.
    _label(at(6, 0).merge(at(8, 0)), "差评办件调查处理情况")
    _label(at(6, 1), "调查人")
    _write_cell(at(6, 2), form.investigator, center=True)
    _label(at(6, 3), "调查对象")
    _write_cell(at(6, 4), form.investigated, center=True)
    _label(at(6, 5), "电话")
    _write_cell(at(6, 6), form.investigated_phone, center=True)
    _write_cell(span(7, 1, 6), f"采取措施：{form.measures}", top=True)
    _label(span(8, 1, 2), "调查结果是否满意")
    _write_cell(span(8, 3, 6), form.satisfied, center=True)

    # Row 9: 分管领导意见
    _label(at(9, 0), "分管领导意见")
    _write_cell(span(9, 1, 6), form.leader_opinion, top=True)
    return _to_bytes(doc)


# --- 附件5 差评办件调查整改报告 --------------------------------------------------------------


def _add_body(doc: DocxDocument, text: str, *, font: str = BODY_FONT, indent: bool = True) -> None:
    """A 三号 body paragraph at a fixed 28 pt line pitch, first line indented two characters."""
    paragraph = doc.add_paragraph()
    fmt = paragraph.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(28)
    if indent:
        fmt.first_line_indent = Pt(32)
    paragraph.alignment = WD_PARAGRAPH_ALIGNMENT.JUSTIFY
    if text:
        _add_run(paragraph, text, font=font, size=SIZE_SAN)


def _numbered(lines: list[str]) -> list[str]:
    if not lines:
        return [EMPTY_LIST_LINE]
    return [f"{number}、{line}" for number, line in enumerate(lines, start=1)]


def _applicant_paragraph(report: InvestigationReport) -> str:
    lead = report.applicant_line.strip()
    if not lead:
        lead = "申请人：　　　　。"
    elif lead[-1] not in "。；;.":
        lead += "。"
    return (
        f"{lead}办理事项：{report.item_name}，申办流水号：{report.case_serial}。"
        f"评价内容：{report.complaint}"
    )


def investigation_report_docx(report: InvestigationReport) -> bytes:
    """The 差评办件调查整改报告 of a work order as .docx bytes (F5; RA Art.5, 附件5).

    Title, opening paragraph, sections 一 to 四 (numbered lines, '（无）' for an empty list)
    and the closing 政府信息公开选项 line.
    """
    title = REPORT_TITLE_TEMPLATE.format(case_no=report.case_no or "　" * 4)
    doc = new_document(title, "", (3.7, 3.5, 2.8, 2.6))
    _add_order_line(doc, report.order_no)
    _add_title(doc, title)
    _add_body(
        doc,
        f"{report.occurred_on}{report.window_name}出现了一件评价结果为“{report.level_name}”"
        "的办件。经过调查了解，现将调查情况报告如下：",
    )
    sections: tuple[list[str], ...] = (
        [_applicant_paragraph(report)],
        _numbered(report.reception),
        _numbered(report.investigation),
        _numbered(report.measures),
    )
    for heading, lines in zip(REPORT_SECTIONS, sections, strict=True):
        _add_body(doc, heading, font=HEADING_FONT)
        for line in lines:
            _add_body(doc, line)
    _add_body(doc, "")
    _add_body(doc, f"政府信息公开选项：{report.disclosure}")
    return _to_bytes(doc)

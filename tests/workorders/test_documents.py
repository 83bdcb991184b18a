"""F5: the Word documents of a bad-review work order, 差评办件转办登记表 (RA 附件4) and
差评办件调查整改报告 (RA 附件5), built from plain strings and read back with python-docx."""

from __future__ import annotations

import dataclasses
import io
import zipfile

import docx
import pytest
from docx.document import Document as DocxDocument
from docx.oxml.ns import qn
from docx.table import Table, _Cell
from docx.text.run import Run

from haochaping.workorders.documents import (
    DOCX_MEDIA_TYPE,
    InvestigationReport,
    TransferForm,
    document_filename,
    investigation_report_docx,
    transfer_form_docx,
)

OFFICE = "融安县政务服务监督管理办公室"

FORM = TransferForm(
    order_no="WO20260930-0001",
    rater_name="张*",
    rater_gender="男",
    rated_at="2026年9月30日 10:15",
    contact="138****5678",
    case_no="45022420260930000123",
    item_name="不动产登记（转移登记）",
    transferred_at="2026年9月30日 11:02",
    source_kind=2,
    complaint="非常不满意；标签：等候时间长、解释不清楚；补充：排队两个小时才办理。",
    signed_by="李**",
    signed_at="2026年9月30日 11:20",
    investigator="王**",
    investigated="不动产登记业务窗口工作人员",
    investigated_phone="0772-81*****",
    measures="当日召开差评办件专题分析会，增设取号引导。\n对窗口人员开展业务培训。",
    satisfied="是",
    leader_opinion="同意整改措施，请县政管办跟踪回访。",
    office_name=OFFICE,
)

BLANK_FORM = dataclasses.replace(
    FORM,
    **{field.name: "" for field in dataclasses.fields(TransferForm) if field.type == "str"},
    source_kind=0,
)

REPORT = InvestigationReport(
    order_no="WO20260930-0001",
    case_no="45022420260930000123",
    occurred_on="2026年9月30日",
    window_name="不动产登记业务窗口",
    level_name="非常不满意",
    applicant_line="申请人：张*，男，汉族，柳州市人，（身份证号码：450224********1234），"
    "电话号码：138****5678。",
    item_name="不动产登记（转移登记）",
    case_serial="RA2026093000123",
    complaint="排队两个小时才办理。",
    reception=[
        "9月30日9时10分申请人到窗口取号。",
        "10时05分窗口受理，10时12分办结。",
    ],
    investigation=[
        "不动产登记业务窗口在9月30日收到县政管办关于出现“差评件”反馈和核查要求后，"
        "立即电话联系了申请人。",
        "经查当日上午办件量大，等候时间较长。",
    ],
    measures=["增设取号引导岗。", "高峰时段增开窗口。", "每周开展服务礼仪培训。"],
)

FORM_LABELS = (
    "评价人姓名",
    "性别",
    "评价时间",
    "联系方式",
    "办理编号",
    "办理事项",
    "转办时间",
    "差评内容",
    "差评类型",
    "现场投诉差评件",
    "“好差评”系统推送差评件",
    "签收记录",
    "签收人",
    "签收时间",
    "差评办件调查处理情况",
    "调查人",
    "调查对象",
    "电话",
    "采取措施",
    "调查结果是否满意",
    "分管领导意见",
)

SECTIONS = ("一、申请人基本情况", "二、服务人员接待情况", "三、调查处理情况", "四、整改措施")


def _open(data: bytes) -> DocxDocument:
    return docx.Document(io.BytesIO(data))


def _only_table(document: DocxDocument) -> Table:
    assert len(document.tables) == 1
    return document.tables[0]


def _row_cells(table: Table, row: int) -> list[_Cell]:
    """The row's distinct cells, left to right: a merged cell counts once."""
    seen: list[_Cell] = []
    for cell in table.rows[row].cells:
        if all(cell._tc is not other._tc for other in seen):
            seen.append(cell)
    return seen


def _all_cells(table: Table) -> list[_Cell]:
    return [cell for row in range(len(table.rows)) for cell in _row_cells(table, row)]


def _after(table: Table, label: str) -> str:
    """Text of the cell right after the first cell whose text is exactly `label`."""
    for row in range(len(table.rows)):
        cells = _row_cells(table, row)
        for index, cell in enumerate(cells):
            if cell.text == label:
                return cells[index + 1].text
    raise AssertionError(f"no cell labelled {label!r}")


def _east_asia_font(run: Run) -> str | None:
    rpr = run._element.rPr
    assert rpr is not None and rpr.rFonts is not None
    font: str | None = rpr.rFonts.get(qn("w:eastAsia"))
    return font


def _texts(document: DocxDocument) -> list[str]:
    return [paragraph.text for paragraph in document.paragraphs if paragraph.text]


def test_transfer_form_is_a_valid_docx() -> None:
    """F5, RA 附件4: the bytes are a zip holding word/document.xml; the media type is Word's."""
    data = transfer_form_docx(FORM)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert "word/document.xml" in archive.namelist()
    assert DOCX_MEDIA_TYPE == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )


def test_transfer_form_title_order_no_and_layout() -> None:
    """F5, RA 附件4: centred bold title, the order number above the table, A4, Chinese fonts."""
    document = _open(transfer_form_docx(FORM))
    texts = _texts(document)
    assert texts[0] == "差评办件转办登记表"
    assert texts[1] == "工单编号：WO20260930-0001"
    title = document.paragraphs[0]
    assert title.alignment is not None and int(title.alignment) == 1  # centred
    assert all(run.bold for run in title.runs)
    assert _east_asia_font(title.runs[0]) == "宋体"
    section = document.sections[0]
    assert section.page_width is not None and round(section.page_width.cm, 1) == 21.0
    assert section.page_height is not None and round(section.page_height.cm, 1) == 29.7
    body_run = _only_table(document).cell(0, 0).paragraphs[0].runs[0]
    assert _east_asia_font(body_run) == "仿宋"
    assert document.core_properties.title == "差评办件转办登记表"


def test_transfer_form_labels_and_values() -> None:
    """F5, RA 附件4: every label of the original is in the table, each value next to its label."""
    table = _only_table(_open(transfer_form_docx(FORM)))
    joined = "\n".join(cell.text for cell in _all_cells(table))
    for label in FORM_LABELS:
        assert label in joined, label
    assert f"{OFFICE}签收记录" in joined

    assert _after(table, "评价人姓名") == "张*"
    assert _after(table, "性别") == "男"
    assert _after(table, "评价时间") == "2026年9月30日 10:15"
    assert _after(table, "联系方式") == "138****5678"
    assert _after(table, "办理编号") == "45022420260930000123"
    assert _after(table, "办理事项") == "不动产登记（转移登记）"
    assert _after(table, "转办时间") == "2026年9月30日 11:02"
    assert _after(table, "调查人") == "王**"
    assert _after(table, "调查对象") == "不动产登记业务窗口工作人员"
    assert _after(table, "电话") == "0772-81*****"
    assert _after(table, "调查结果是否满意") == "是"
    assert _after(table, "分管领导意见") == "同意整改措施，请县政管办跟踪回访。"
    assert _after(table, f"{OFFICE}签收记录") == (
        "签收人：李**　　　　签收时间：2026年9月30日 11:20"
    )


def test_transfer_form_merged_rows() -> None:
    """F5, RA 附件4: 差评内容 spans the type line and the content; 调查处理情况 spans 3 rows."""
    table = _only_table(_open(transfer_form_docx(FORM)))
    assert len(table.rows) == 10
    assert len(table.columns) == 7
    complaint_rows = [row for row in range(10) if _row_cells(table, row)[0].text == "差评内容"]
    assert complaint_rows == [3, 4]
    assert len(_row_cells(table, 3)) == 2
    assert _row_cells(table, 4)[1].text == FORM.complaint
    investigation_rows = [
        row for row in range(10) if _row_cells(table, row)[0].text == "差评办件调查处理情况"
    ]
    assert investigation_rows == [6, 7, 8]
    assert [cell.text for cell in _row_cells(table, 6)[1:]] == [
        "调查人",
        "王**",
        "调查对象",
        "不动产登记业务窗口工作人员",
        "电话",
        "0772-81*****",
    ]
    measures = _row_cells(table, 7)[1]
    assert [paragraph.text for paragraph in measures.paragraphs] == [
        "采取措施：当日召开差评办件专题分析会，增设取号引导。",
        "对窗口人员开展业务培训。",
    ]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (1, "差评类型：☑1.现场投诉差评件　　☐2.“好差评”系统推送差评件"),
        (2, "差评类型：☐1.现场投诉差评件　　☑2.“好差评”系统推送差评件"),
        (0, "差评类型：☐1.现场投诉差评件　　☐2.“好差评”系统推送差评件"),
    ],
)
def test_transfer_form_ticks_the_source_kind(kind: int, expected: str) -> None:
    """F5, RA 附件4: the 差评类型 line ticks the order's kind; 0 leaves both boxes empty."""
    form = dataclasses.replace(FORM, source_kind=kind)
    table = _only_table(_open(transfer_form_docx(form)))
    assert _row_cells(table, 3)[1].text == expected


def test_transfer_form_rejects_unknown_source_kind() -> None:
    """F5, RA 附件4: only the two types of the original exist."""
    with pytest.raises(ValueError, match="source kind"):
        transfer_form_docx(dataclasses.replace(FORM, source_kind=3))


def test_blank_transfer_form_still_prints_every_label() -> None:
    """F5, RA 附件4: with every value empty the form keeps its labels and its empty cells."""
    assert set(dataclasses.astuple(BLANK_FORM)) == {"", 0}
    document = _open(transfer_form_docx(BLANK_FORM))
    assert _texts(document)[:2] == ["差评办件转办登记表", "工单编号："]
    table = _only_table(document)
    joined = "\n".join(cell.text for cell in _all_cells(table))
    for label in FORM_LABELS:
        assert label in joined, label
    # Without an office name the template's own 县政管办 is printed.
    assert "县政管办签收记录" in joined
    for label in ("评价人姓名", "性别", "评价时间", "联系方式", "办理编号", "调查人", "电话"):
        assert _after(table, label) == "", label
    assert _after(table, "调查结果是否满意") == ""
    assert _after(table, "分管领导意见") == ""
    assert _row_cells(table, 7)[1].text == "采取措施："
    assert len(table.rows) == 10


def test_investigation_report_title_and_opening() -> None:
    """F5, RA 附件5: the title names the case; the opening quotes the level and the window."""
    data = investigation_report_docx(REPORT)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "word/document.xml" in archive.namelist()
    document = _open(data)
    texts = _texts(document)
    assert texts[0] == "工单编号：WO20260930-0001"
    assert texts[1] == "关于45022420260930000123差评办件调查整改报告"
    title = next(p for p in document.paragraphs if p.text == texts[1])
    assert title.alignment is not None and int(title.alignment) == 1
    assert all(run.bold for run in title.runs)
    assert texts[2] == (
        "2026年9月30日不动产登记业务窗口出现了一件评价结果为“非常不满意”的办件。"
        "经过调查了解，现将调查情况报告如下："
    )
    assert document.tables == []


def test_investigation_report_sections_in_order() -> None:
    """F5, RA 附件5: the four headed sections in order, their numbered lines, the 公开 option."""
    texts = _texts(_open(investigation_report_docx(REPORT)))
    positions = [texts.index(heading) for heading in SECTIONS]
    assert positions == sorted(positions)
    assert texts[positions[0] + 1] == (
        "申请人：张*，男，汉族，柳州市人，（身份证号码：450224********1234），"
        "电话号码：138****5678。办理事项：不动产登记（转移登记），"
        "申办流水号：RA2026093000123。评价内容：排队两个小时才办理。"
    )
    assert texts[positions[1] + 1 : positions[2]] == [
        "1、9月30日9时10分申请人到窗口取号。",
        "2、10时05分窗口受理，10时12分办结。",
    ]
    assert texts[positions[2] + 1 : positions[3]] == [
        "1、不动产登记业务窗口在9月30日收到县政管办关于出现“差评件”反馈和核查要求后，"
        "立即电话联系了申请人。",
        "2、经查当日上午办件量大，等候时间较长。",
    ]
    assert texts[positions[3] + 1 :] == [
        "1、增设取号引导岗。",
        "2、高峰时段增开窗口。",
        "3、每周开展服务礼仪培训。",
        "政府信息公开选项：主动公开",
    ]


def test_investigation_report_empty_lists_print_none() -> None:
    """F5, RA 附件5: a section without lines prints a single “（无）”."""
    report = dataclasses.replace(
        REPORT, reception=[], investigation=[], measures=[], disclosure="不予公开"
    )
    texts = _texts(_open(investigation_report_docx(report)))
    positions = [texts.index(heading) for heading in SECTIONS]
    assert texts[positions[1] + 1 : positions[2]] == ["（无）"]
    assert texts[positions[2] + 1 : positions[3]] == ["（无）"]
    assert texts[positions[3] + 1 :] == ["（无）", "政府信息公开选项：不予公开"]


def test_investigation_report_headings_use_heiti() -> None:
    """F5, RA 附件5: section headings in 黑体, body lines in 仿宋."""
    document = _open(investigation_report_docx(REPORT))
    by_text = {paragraph.text: paragraph for paragraph in document.paragraphs}
    for heading in SECTIONS:
        assert _east_asia_font(by_text[heading].runs[0]) == "黑体"
    assert _east_asia_font(by_text["1、增设取号引导岗。"].runs[0]) == "仿宋"


def test_document_filename() -> None:
    """F5: file names of the two documents; any other kind is refused."""
    assert document_filename("transfer", "WO20260930-0001") == "转办登记表-WO20260930-0001.docx"
    assert document_filename("report", "WO20260930-0001") == "调查整改报告-WO20260930-0001.docx"
    with pytest.raises(ValueError, match="kind"):
        document_filename("invoice", "WO20260930-0001")

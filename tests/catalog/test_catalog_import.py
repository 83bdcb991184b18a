"""A2-A5: importing the catalogue from CSV / XLSX, all-or-nothing, upsert by code."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.catalog.importer import RecordType, import_catalogue, level_of_code
from haochaping.catalog.models import (
    Hall,
    Organization,
    Region,
    RegionLevel,
    ServiceItem,
    Staff,
    Window,
)
from haochaping.errors import InvalidInput
from tests.catalog.catalog_helpers import EXAMPLE, table_counts, write_csv


def _errors(session: Session, path: Path) -> list[dict[str, Any]]:
    with pytest.raises(InvalidInput) as caught:
        import_catalogue(session=session, path=path)
    assert caught.value.code == "catalog_file_invalid"
    assert f"{len(caught.value.details)} 处错误" in caught.value.message
    details: list[dict[str, Any]] = caught.value.details
    return details


def _where(details: list[dict[str, Any]]) -> list[tuple[int, str | None]]:
    return [(d["row"], d["column"]) for d in details]


def test_example_csv_imports_and_builds_region_paths(session: Session) -> None:
    report = import_catalogue(session=session, path=EXAMPLE)

    assert report.rows == 29
    assert report.counts[RecordType.region].inserted == 5
    assert report.counts[RecordType.staff].inserted == 5
    assert report.inserted == 29 and report.updated == 0
    town = session.get(Region, "450224100000")
    assert town is not None
    assert town.path == "/450000/450200/450224/450224100000/"
    assert town.level == RegionLevel.township and town.parent_code == "450224"
    rongan = session.get(Region, "450224")
    assert rongan is not None and rongan.profile == "rongan" and rongan.level == "county"
    guangxi = session.get(Region, "450000")
    assert guangxi is not None and guangxi.path == "/450000/" and guangxi.profile == "guangxi"

    centre = session.scalars(select(Hall).where(Hall.code == "450224-ZWZX")).one()
    sub = session.scalars(select(Hall).where(Hall.code == "450224-BDC")).one()
    assert sub.parent_id == centre.id and centre.parent_id is None

    item = session.scalars(select(ServiceItem).where(ServiceItem.code == "450224-SCJG-0001")).one()
    assert (item.name, item.kind, item.handling, item.promised_days) == (
        "企业设立登记",
        "promised",
        "online,window",
        3,
    )
    staff = session.scalars(select(Staff).where(Staff.code == "RA0003")).one()
    window = session.get(Window, staff.window_id)
    assert window is not None and window.code == "450224-BDC-01" and window.hall_id == sub.id
    assert window.org_id == staff.org_id


def test_reimport_updates_in_place_instead_of_duplicating(session: Session, tmp_path: Path) -> None:
    import_catalogue(session=session, path=EXAMPLE)
    before = table_counts(session)
    text = EXAMPLE.read_text(encoding="utf-8")
    changed = text.replace("融安县公安局", "融安县公安局（户政）").replace(
        "450224-ZRZY-0001,不动产转移登记,,,,,,,450224-ZRZY,,promised,window,5",
        '450224-ZRZY-0001,不动产转移登记,,,,,,,450224-ZRZY,,promised,"online,window",7',
    )
    assert changed.count("（户政）") == 1 and ",7\n" in changed
    path = tmp_path / "catalog.csv"
    path.write_text(changed, encoding="utf-8")

    report = import_catalogue(session=session, path=path)

    assert table_counts(session) == before
    assert report.inserted == 0
    assert report.counts[RecordType.org].updated == 1
    assert report.counts[RecordType.org].unchanged == 3
    assert report.counts[RecordType.item].updated == 1
    assert report.counts[RecordType.region].unchanged == 5
    org = session.scalars(select(Organization).where(Organization.code == "450224-GA")).one()
    assert org.name == "融安县公安局（户政）"
    item = session.scalars(select(ServiceItem).where(ServiceItem.code == "450224-ZRZY-0001")).one()
    assert (item.handling, item.promised_days) == ("online,window", 7)


def test_every_bad_row_is_reported_and_nothing_is_written(session: Session, tmp_path: Path) -> None:
    import_catalogue(session=session, path=EXAMPLE)
    before = table_counts(session)
    rows = [
        {"type": "region", "code": "45020", "name": "柳州", "parent": "450000"},  # row 2
        {
            "type": "region",
            "code": "450300",
            "name": "桂林市",
            "parent": "450000",
            "level": "county",
        },  # row 3
        {"type": "region", "code": "440300", "name": "深圳市", "parent": "450000"},  # row 4
        {
            "type": "region",
            "code": "450400",
            "name": "梧州市",
            "parent": "450000",
            "profile": "atlantis",
        },  # row 5
        {"type": "widget", "code": "X1", "name": "?"},  # row 6
        {"type": "hall", "code": "H-NEW", "name": "新大厅", "region": "999999"},  # row 7
        {
            "type": "org",
            "code": "O-NEW",
            "name": "新机构",
            "region": "450224",
            "line": "NOPE",
        },  # row 8
        {
            "type": "item",
            "code": "I-NEW",
            "name": "事项",
            "org": "O-NEW",
            "kind": "承诺",
            "handling": "online,fax",
            "promised_days": "0",
        },  # row 9
        {
            "type": "item",
            "code": "I-NEW",
            "name": "事项二",
            "org": "O-NEW",
            "kind": "即办",
            "handling": "窗口",
            "promised_days": "-1",
        },  # row 10
        {
            "type": "staff",
            "code": "S-NEW",
            "name": "",
            "org": "450224-GA",
            "window": "450224-ZWZX-05",
        },  # row 11
        {
            "type": "window",
            "code": "W-NEW",
            "name": "窗口",
            "hall": "NOPE",
            "org": "450224-GA",
        },  # row 12
    ]
    path = write_csv(tmp_path / "bad.csv", rows)

    details = _errors(session, path)

    assert _where(details) == [
        (2, "code"),
        (3, "level"),
        (4, "code"),
        (5, "profile"),
        (6, "type"),
        (7, "region"),
        (8, "line"),
        (9, "handling"),
        (9, "promised_days"),
        (10, "code"),
        (10, "promised_days"),
        (11, "name"),
        (11, "window"),
        (12, "hall"),
    ]
    assert all(d["sheet"] is None for d in details)
    by_place = {(d["row"], d["column"]): d["message"] for d in details}
    assert "6 位" in by_place[2, "code"] and "12 位" in by_place[2, "code"]
    assert "市级" in by_place[3, "level"]
    assert "应以 45 开头" in by_place[4, "code"]
    assert "atlantis" in by_place[5, "profile"] and "rongan" in by_place[5, "profile"]
    assert "widget" in by_place[6, "type"]
    assert "999999" in by_place[7, "region"] and "不存在" in by_place[7, "region"]
    assert "fax" in by_place[9, "handling"]
    assert "大于 0" in by_place[9, "promised_days"]
    assert "重复" in by_place[10, "code"] and "第 9 行" in by_place[10, "code"]
    assert "非负整数" in by_place[10, "promised_days"]
    assert by_place[11, "name"] == "必填项为空"
    assert "450224-SCJG" in by_place[11, "window"]
    assert table_counts(session) == before


def test_header_and_blank_rows_keep_the_numbers_people_see(
    session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "odd.csv"
    path.write_text(
        "类型,编码,名称,上级,备注\n业务条线,GA,公安,,\n,,,,\nline,,无编码,,\n",
        encoding="utf-8",
    )
    details = _errors(session, path)
    assert [(d["row"], d["column"], d["message"]) for d in details] == [
        (1, None, "无法识别的列名“备注”"),
        (4, "编码", "必填项为空"),
    ]


def test_region_level_follows_the_code_shape() -> None:
    assert level_of_code("450000") is RegionLevel.province
    assert level_of_code("450200") is RegionLevel.city
    assert level_of_code("450224") is RegionLevel.county
    assert level_of_code("450224100000") is RegionLevel.township
    assert level_of_code("450224100201") is RegionLevel.village
    for bad in ("45020", "4502000", "450224000001", "000000", "45O200", "４５０２００"):
        assert level_of_code(bad) is None, bad


def test_parent_must_be_a_higher_level_and_a_code_prefix(session: Session, tmp_path: Path) -> None:
    rows = [
        {"type": "region", "code": "450000", "name": "广西壮族自治区", "level": "自治区"},
        {"type": "region", "code": "450200", "name": "柳州市", "parent": "450000", "level": "市"},
        {"type": "region", "code": "450224", "name": "融安县", "parent": "450200"},
        # a township under another county, a county under a county, a city under itself
        {"type": "region", "code": "450225100000", "name": "融水镇", "parent": "450224"},
        {"type": "region", "code": "450226", "name": "三江县", "parent": "450224"},
        {"type": "region", "code": "450300", "name": "桂林市", "parent": "450300"},
    ]
    details = _errors(session, write_csv(tmp_path / "tree.csv", rows))
    assert _where(details) == [(5, "code"), (6, "parent"), (7, "parent")]
    assert "县级" in details[1]["message"]
    assert "自己" in details[2]["message"]


def test_references_to_rows_already_in_the_database(session: Session, tmp_path: Path) -> None:
    import_catalogue(session=session, path=EXAMPLE)
    rows = [
        {
            "type": "region",
            "code": "450224100201",
            "name": "某村",
            "parent": "450224100000",
            "level": "村",
        },
        {
            "type": "hall",
            "code": "450224-GA-FZX",
            "name": "公安分中心",
            "region": "450224",
            "parent": "450224-ZWZX",
        },
        {"type": "org", "code": "450224-SBJ", "name": "融安县医疗保障局", "region": "450224"},
        {
            "type": "item",
            "code": "450224-GA-0003",
            "name": "户口迁移",
            "org": "450224-GA",
            "kind": "immediate",
            "handling": "window",
        },
        {
            "type": "window",
            "code": "450224-ZWZX-02",
            "name": "公安综合窗口（2号）",
            "hall": "450224-ZWZX",
            "org": "450224-GA",
        },
        {
            "type": "staff",
            "code": "RA0100",
            "name": "黄文",
            "org": "450224-GA",
            "window": "450224-ZWZX-01",
        },
    ]
    report = import_catalogue(session=session, path=write_csv(tmp_path / "more.csv", rows))

    assert report.inserted == 6 and report.updated == 0
    village = session.get(Region, "450224100201")
    assert village is not None
    assert village.path == "/450000/450200/450224/450224100000/450224100201/"
    item = session.scalars(select(ServiceItem).where(ServiceItem.code == "450224-GA-0003")).one()
    police = session.scalars(select(Organization).where(Organization.code == "450224-GA")).one()
    assert item.org_id == police.id and item.promised_days == 0


def test_staff_window_and_hall_rules(session: Session, tmp_path: Path) -> None:
    import_catalogue(session=session, path=EXAMPLE)
    rows = [
        # the window belongs to 公安局, the staff member to 自然资源局
        {
            "type": "staff",
            "code": "RA0200",
            "name": "甲",
            "org": "450224-ZRZY",
            "window": "450224-ZWZX-01",
        },
        # two halls that are each other's parent
        {"type": "hall", "code": "HA", "name": "甲大厅", "region": "450224", "parent": "HB"},
        {"type": "hall", "code": "HB", "name": "乙大厅", "region": "450224", "parent": "HA"},
        # a county hall cannot be a sub-centre of a township hall
        {
            "type": "hall",
            "code": "HC",
            "name": "丙大厅",
            "region": "450224",
            "parent": "450224100000-BMFW",
        },
        # the window moves to 市场监管局 but 韦丽萍 (公安局) stays behind it
        {
            "type": "window",
            "code": "450224-ZWZX-01",
            "name": "综合窗口",
            "hall": "450224-ZWZX",
            "org": "450224-SCJG",
        },
    ]
    details = _errors(session, write_csv(tmp_path / "rules.csv", rows))
    assert _where(details) == [
        (2, "window"),
        (3, "parent"),
        (4, "parent"),
        (5, "parent"),
        (6, "org"),
    ]
    assert "循环" in details[1]["message"]
    assert "辖区" in details[3]["message"]
    assert "RA0001" in details[4]["message"]


def test_moving_a_window_with_its_staff_in_the_same_file_is_allowed(
    session: Session, tmp_path: Path
) -> None:
    import_catalogue(session=session, path=EXAMPLE)
    rows = [
        {
            "type": "window",
            "code": "450224-ZWZX-01",
            "name": "综合窗口",
            "hall": "450224-ZWZX",
            "org": "450224-SCJG",
        },
        {
            "type": "staff",
            "code": "RA0001",
            "name": "韦丽萍",
            "org": "450224-SCJG",
            "window": "450224-ZWZX-01",
        },
    ]
    report = import_catalogue(session=session, path=write_csv(tmp_path / "move.csv", rows))
    assert report.counts[RecordType.window].updated == 1
    assert report.counts[RecordType.staff].updated == 1


def test_a_region_moved_to_a_new_parent_takes_its_subtree_along(
    session: Session, tmp_path: Path
) -> None:
    import_catalogue(session=session, path=EXAMPLE)
    # 融安县 directly under the province, as a 省直辖县 would be.
    rows = [
        {
            "type": "region",
            "code": "450224",
            "name": "融安县",
            "parent": "450000",
            "profile": "rongan",
        }
    ]
    report = import_catalogue(session=session, path=write_csv(tmp_path / "move.csv", rows))

    assert report.counts[RecordType.region].updated == 1
    session.expire_all()
    paths = {r.code: r.path for r in session.scalars(select(Region))}
    assert paths["450224"] == "/450000/450224/"
    assert paths["450224100000"] == "/450000/450224/450224100000/"
    assert paths["450224101000"] == "/450000/450224/450224101000/"
    assert paths["450200"] == "/450000/450200/"


def test_a_csv_with_a_byte_order_mark_and_chinese_values(session: Session, tmp_path: Path) -> None:
    rows = [
        {"type": "行政区划", "code": "450000", "name": "广西壮族自治区", "level": "省"},
        {"type": "业务条线", "code": "GA", "name": "公安"},
        {
            "type": "机构",
            "code": "GX-GA",
            "name": "广西壮族自治区公安厅",
            "region": "450000",
            "line": "GA",
        },
        {
            "type": "事项",
            "code": "GX-GA-1",
            "name": "出入境证件签发",
            "org": "GX-GA",
            "kind": "承诺件",
            "handling": "网办、窗口、自助",
            "promised_days": "7",
        },
    ]
    path = write_csv(tmp_path / "bom.csv", rows, bom=True)
    report = import_catalogue(session=session, path=path)
    assert report.inserted == 4
    item = session.scalars(select(ServiceItem).where(ServiceItem.code == "GX-GA-1")).one()
    assert (item.kind, item.handling, item.promised_days) == (
        "promised",
        "online,window,terminal",
        7,
    )


def test_files_that_cannot_be_read(session: Session, tmp_path: Path) -> None:
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("type,code,name\nline,GA,公安\n".encode("gbk"))
    with pytest.raises(InvalidInput) as caught:
        import_catalogue(session=session, path=gbk)
    assert caught.value.code == "catalog_file_unreadable" and "UTF-8" in caught.value.message

    other = shutil.copy(EXAMPLE, tmp_path / "catalog.txt")
    with pytest.raises(InvalidInput) as caught:
        import_catalogue(session=session, path=Path(other))
    assert caught.value.code == "catalog_file_unsupported"

    empty = tmp_path / "empty.csv"
    empty.write_text("type,code,name\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        import_catalogue(session=session, path=empty)
    assert caught.value.code == "catalog_file_empty"


def _sheet(workbook: Workbook, title: str, header: list[str], rows: list[list[Any]]) -> None:
    sheet = workbook.create_sheet(title)
    sheet.append(header)
    for row in rows:
        sheet.append(row)


def _example_workbook(path: Path, *, bad: bool = False) -> Path:
    workbook = Workbook()
    assert workbook.active is not None
    workbook.remove(workbook.active)
    # Region codes typed as numbers, as Excel users do.
    _sheet(
        workbook,
        "行政区划",
        ["编码", "名称", "上级", "级别", "政策配置"],
        [
            [450000, "广西壮族自治区", None, "省", "guangxi"],
            [450200, "柳州市", 450000, "市", None],
            [450224, "融安县", 450200, "县", "rongan"],
            [450224100000, "长安镇", 450224, "乡镇", None],
        ],
    )
    _sheet(workbook, "line", ["code", "name"], [["GA", "公安"], ["BDC", "不动产"]])
    _sheet(
        workbook,
        "大厅",
        ["code", "name", "region", "parent"],
        [
            ["450224-ZWZX", "融安县政务服务中心", 450224, None],
            ["450224-BDC", "融安县不动产登记分中心", 450224, "450224-ZWZX"],
        ],
    )
    # A sheet not named by a type carries a type column; its rows are merged with the rest.
    _sheet(
        workbook,
        "机构与事项",
        ["type", "code", "name", "region", "line", "org", "kind", "handling", "promised_days"],
        [
            ["org", "450224-GA", "融安县公安局", 450224, "GA", None, None, None, None],
            ["org", "450224-ZRZY", "融安县自然资源局", 450224, "BDC", None, None, None, None],
            [
                "item",
                "450224-GA-0001",
                "居民身份证换领",
                None,
                None,
                "450224-GA",
                "即办",
                "窗口",
                0,
            ],
            [
                "item",
                "450224-ZRZY-0001",
                "不动产转移登记",
                None,
                None,
                "450224-ZRZY",
                "承诺",
                "window",
                0 if bad else 5.0,
            ],
        ],
    )
    _sheet(
        workbook,
        "窗口",
        ["code", "name", "hall", "org"],
        [
            ["450224-ZWZX-01", "公安综合窗口（1号）", "450224-ZWZX", "450224-GA"],
            ["450224-BDC-01", "不动产登记窗口（1号）", "450224-BDC", "450224-ZRZY"],
        ],
    )
    _sheet(
        workbook,
        "人员",
        ["code", "name", "org", "window"],
        [
            ["RA0001", "韦丽萍", "450224-GA", "450224-ZWZX-01"],
            ["RA0003", "梁秀英", "450224-ZRZY", "450224-BDC-01" if not bad else "450224-ZWZX-01"],
        ],
    )
    workbook.save(path)
    return path


def test_xlsx_with_one_sheet_per_type(session: Session, tmp_path: Path) -> None:
    path = _example_workbook(tmp_path / "catalog.xlsx")
    report = import_catalogue(session=session, path=path)

    assert report.rows == 16 and report.inserted == 16
    town = session.get(Region, "450224100000")
    assert town is not None and town.path == "/450000/450200/450224/450224100000/"
    item = session.scalars(select(ServiceItem).where(ServiceItem.code == "450224-ZRZY-0001")).one()
    assert (item.kind, item.promised_days) == ("promised", 5)


def test_xlsx_errors_name_the_sheet(session: Session, tmp_path: Path) -> None:
    before = table_counts(session)
    path = _example_workbook(tmp_path / "bad.xlsx", bad=True)
    details = _errors(session, path)
    assert [(d["sheet"], d["row"], d["column"]) for d in details] == [
        ("机构与事项", 5, "promised_days"),
        ("人员", 3, "window"),
    ]
    assert table_counts(session) == before


def test_xlsx_type_column_must_agree_with_the_sheet_name(session: Session, tmp_path: Path) -> None:
    workbook = Workbook()
    assert workbook.active is not None
    workbook.active.title = "line"
    workbook.active.append(["type", "code", "name"])
    workbook.active.append(["line", "GA", "公安"])
    workbook.active.append(["org", "X", "某机构"])
    notes = workbook.create_sheet("说明")
    notes.append(["本文件为目录导入模板"])
    path = tmp_path / "mixed.xlsx"
    workbook.save(path)
    details = _errors(session, path)
    assert [(d["sheet"], d["row"], d["column"]) for d in details] == [
        ("line", 3, "type"),
        ("说明", 1, None),
    ]
    assert "缺少“type”" in details[1]["message"]

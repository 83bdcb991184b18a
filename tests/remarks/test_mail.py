"""E-mailed 综合点评 (D2 ZZ 电子邮箱, D3 GD Art.13): decoding Chinese mail, dedup by Message-ID,
the sender kept encrypted (C9), bad messages reported one by one, never logged with the sender."""

from __future__ import annotations

import base64
import logging
import mailbox
import quopri
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from haochaping.cli import app as cli_app
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.remarks import mail, mailimport
from haochaping.remarks.models import Remark, RemarkSource
from tests.factories import make_catalog
from tests.remarks.helpers import NOW, ZZ

SENDER = "lisi.citizen@example.cn"


def _b64(text: str, charset: str) -> str:
    return base64.b64encode(text.encode(charset)).decode("ascii")


def gbk_base64() -> bytes:
    """Subject RFC 2047 in GB2312, body GBK in base64: what older Chinese webmail sends."""
    subject = "=?GB2312?B?" + _b64("关于办事大厅停车难的建议", "gb2312") + "?="
    sender = "=?GBK?B?" + _b64("李四", "gbk") + "?= <" + SENDER + ">"
    body = _b64("建议在大厅东侧增设临时停车位。\n谢谢！", "gbk")
    return (
        f"From: {sender}\r\nTo: zwfw@example.gov.cn\r\nSubject: {subject}\r\n"
        "Message-ID: <gbk-1@mail.example.cn>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="gbk"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        f"{body}\r\n"
    ).encode("ascii")


def html_only() -> bytes:
    html = (
        "<html><head><style>p{color:red}</style></head><body><p>表扬<b>不动产登记中心</b>"
        "窗口服务热情周到&amp;高效</p><div>王女士</div></body></html>"
    )
    qp = quopri.encodestring(html.encode("utf-8")).decode("ascii")
    subject = "=?UTF-8?Q?" + "".join(f"={b:02X}" for b in "表扬信".encode()) + "?="
    return (
        f"From: wang@example.com\r\nSubject: {subject}\r\nMessage-ID: <html-1@example.com>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=XX\r\n\r\n"
        "--XX\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{qp}\r\n--XX--\r\n"
    ).encode("ascii")


def empty_mail() -> bytes:
    return b"From: nobody@example.com\r\nMessage-ID: <empty-1@example.com>\r\n\r\n  \r\n"


GARBAGE = bytes(range(256)) * 3


def test_D3_gbk_subject_and_base64_body_are_decoded() -> None:
    parsed = mail.parse(gbk_base64())
    assert parsed.subject == "关于办事大厅停车难的建议"
    assert parsed.body == "建议在大厅东侧增设临时停车位。\n谢谢！"
    assert (parsed.sender_email, parsed.sender_name) == (SENDER, "李四")
    assert parsed.text.startswith("关于办事大厅停车难的建议\n\n建议")


def test_D3_html_only_body_becomes_text() -> None:
    parsed = mail.parse(html_only())
    assert parsed.subject == "表扬信"
    assert parsed.body == "表扬不动产登记中心窗口服务热情周到&高效\n\n王女士"
    assert "color" not in parsed.body


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (GARBAGE, "remark_mail_unreadable"),
        (b"", "remark_mail_unreadable"),
        (empty_mail(), "remark_mail_empty"),
    ],
)
def test_unreadable_messages_are_refused_with_a_reason(raw: bytes, code: str) -> None:
    with pytest.raises(mail.MailError) as info:
        mail.parse(raw)
    assert info.value.code == code and info.value.message


def test_D2_C9_import_dedups_by_message_id_and_keeps_the_sender_encrypted(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    make_catalog(session)
    mails = [
        mail.RawMail("a.eml", gbk_base64()),
        mail.RawMail("b.eml", html_only()),
        mail.RawMail("c.eml", gbk_base64()),  # the same Message-ID again
        mail.RawMail("d.eml", GARBAGE),
    ]
    caplog.set_level(logging.WARNING)
    result = mailimport.import_mails(
        session=session, mails=mails, region_code=ZZ, now=NOW, actor="cli:test"
    )
    assert len(result.stored) == 2 and result.duplicates == ["c.eml"]
    assert [(e.ref, e.code) for e in result.errors] == [("d.eml", "remark_mail_unreadable")]
    remarks = session.scalars(select(Remark).order_by(Remark.id)).all()
    assert {r.source for r in remarks} == {RemarkSource.email.value}
    assert remarks[0].contact_email == SENDER and remarks[0].contact_name == "李四"
    assert remarks[1].category == "praise"
    # A log line per failure, without personal data.
    assert "d.eml" in caplog.text and SENDER not in caplog.text
    again = mailimport.import_mails(
        session=session, mails=mails[:2], region_code=ZZ, now=NOW, actor="cli:test"
    )
    assert again.stored == [] and again.duplicates == ["a.eml", "b.eml"]


def _sources(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "eml"
    folder.mkdir()
    (folder / "1.eml").write_bytes(gbk_base64())
    (folder / "2.eml").write_bytes(GARBAGE)
    box = tmp_path / "box.mbox"
    mbox = mailbox.mbox(str(box))
    mbox.add(html_only())
    mbox.add(gbk_base64())
    mbox.close()
    maildir = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    maildir.add(html_only())
    return {"dir": folder, "mbox": box, "maildir": tmp_path / "Maildir"}


def test_read_source_reads_mbox_maildir_and_eml_directories(tmp_path: Path) -> None:
    sources = _sources(tmp_path)
    assert [m.ref for m in mail.read_source(sources["dir"])] == ["1.eml", "2.eml"]
    assert [m.ref for m in mail.read_source(sources["mbox"])] == ["#1", "#2"]
    (only,) = mail.read_source(sources["maildir"])
    assert mail.parse(only.data).subject == "表扬信"


def test_cli_import_remarks_mail(
    committed_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HCP_DATABASE_URL", committed_db.engine.url.render_as_string(False))
    get_settings.cache_clear()
    try:
        with committed_db.transaction() as session:
            make_catalog(session)
        sources = _sources(tmp_path)
        report = tmp_path / "errors.csv"
        args = ["import", "remarks-mail", "--region", ZZ, "--now", NOW.isoformat()]
        result = CliRunner().invoke(cli_app, [*args, str(sources["dir"]), "--report", str(report)])
        assert result.exit_code == 1, result.output
        assert "已受理 1 封" in result.output and "未能导入 1 封" in result.output
        assert "remark_mail_unreadable" in result.output and "2.eml" in result.output
        assert "2.eml,remark_mail_unreadable" in report.read_text(encoding="utf-8-sig")
        result = CliRunner().invoke(cli_app, [*args, str(sources["mbox"])])
        assert result.exit_code == 0, result.output
        assert "已受理 1 封" in result.output and "重复 1 封" in result.output
        result = CliRunner().invoke(cli_app, [*args, str(sources["maildir"])])
        assert result.exit_code == 0 and "重复 1 封" in result.output
        assert SENDER not in result.output
        bad = CliRunner().invoke(
            cli_app, ["import", "remarks-mail", "--region", "999999", str(sources["mbox"])]
        )
        assert bad.exit_code == 1 and "region_not_found" in bad.output
        with committed_db.transaction() as session:
            assert len(session.scalars(select(Remark)).all()) == 2
    finally:
        get_settings.cache_clear()

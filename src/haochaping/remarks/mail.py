"""Reading e-mailed 综合点评 (D2 ZZ 二(二)3 电子邮箱, D3 GD Art.13): an mbox file, a Maildir or a
directory of ``.eml`` files, with the stdlib only. Chinese mail comes in every encoding: RFC 2047
subjects (``=?GB2312?B?…?=``), GB2312 / GBK / GB18030 / UTF-8 bodies, quoted-printable or base64,
sometimes HTML only. No database here: ``mailimport`` stores what this module reads."""

from __future__ import annotations

import hashlib
import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from email.utils import parseaddr
from html.parser import HTMLParser
from pathlib import Path

from haochaping.errors import InvalidInput
from haochaping.remarks.schemas import TEXT_MAX

# Labels mail software puts on GBK text: GB18030 decodes all of them (a superset).
_CHARSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030"}
_BLANK_LINES = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t\u3000]+")
TRUNCATED = "……（邮件内容过长，以下从略）"


class MailError(InvalidInput):
    """One message that cannot become a remark (its code says why)."""


@dataclass(frozen=True)
class RawMail:
    # Where the message is: a file name, ``#3`` in an mbox, a Maildir key.
    ref: str
    data: bytes


@dataclass(frozen=True)
class ParsedMail:
    # SHA-256 of the Message-ID (or of the whole message when it has none): dedup key.
    message_hash: str
    subject: str
    body: str
    sender_email: str | None
    sender_name: str | None

    @property
    def text(self) -> str:
        """The remark's text: the subject, a blank line, the body; cut at ``TEXT_MAX``."""
        parts = [p for p in (self.subject.strip(), self.body.strip()) if p]
        text = "\n\n".join(parts)
        if len(text) > TEXT_MAX:
            text = text[: TEXT_MAX - len(TRUNCATED)] + TRUNCATED
        return text


def read_source(path: Path) -> list[RawMail]:
    """Every message of an mbox file, a Maildir (``cur``/``new``) or a directory of ``.eml``
    files (a single ``.eml`` file too), in a stable order."""
    if path.is_dir():
        if (path / "cur").is_dir() or (path / "new").is_dir():
            box = mailbox.Maildir(str(path), factory=None, create=False)
            return [RawMail(f"Maildir:{key}", box.get_bytes(key)) for key in sorted(box.keys())]
        return [RawMail(p.name, p.read_bytes()) for p in sorted(path.glob("*.eml")) if p.is_file()]
    data = path.read_bytes()
    if data.startswith(b"From "):
        mbox = mailbox.mbox(str(path), factory=None, create=False)
        try:
            return [
                RawMail(f"#{index}", mbox.get_bytes(key))
                for index, key in enumerate(mbox.keys(), start=1)
            ]
        finally:
            mbox.close()
    return [RawMail(path.name, data)]


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in the declared charset (GBK labels read as GB18030); without one, or with a
    wrong one, UTF-8 then GB18030 are tried; refused when nothing fits."""
    tried: list[str] = []
    if charset:
        name = _CHARSETS.get(charset.strip().lower(), charset.strip().lower())
        tried.append(name)
    tried += ["utf-8", "gb18030"]
    for name in tried:
        try:
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    raise MailError("remark_mail_charset", "邮件内容的字符编码无法识别")


def decode_header_value(value: str | None) -> str:
    """An RFC 2047 header (``=?GB2312?B?…?=`` and plain parts mixed) as text."""
    if not value:
        return ""
    parts = []
    for chunk, charset in decode_header(str(value)):
        if isinstance(chunk, bytes):
            parts.append(decode_bytes(chunk, charset))
        else:
            parts.append(chunk)
    return "".join(parts).strip()


class _TextOfHtml(HTMLParser):
    BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "table"})
    SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The readable text of an HTML body: tags dropped, entities resolved, breaks kept."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    return tidy("".join(parser.parts))


def tidy(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _parts(message: Message) -> Iterator[Message]:
    for part in message.walk():
        if part.is_multipart():
            continue
        if (part.get("Content-Disposition") or "").lower().startswith("attachment"):
            continue
        yield part


def _body(message: Message) -> str:
    plain: str | None = None
    html: str | None = None
    for part in _parts(message):
        kind = part.get_content_type()
        if kind not in ("text/plain", "text/html"):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        text = decode_bytes(payload, part.get_content_charset())
        if kind == "text/plain" and plain is None:
            plain = tidy(text)
        elif kind == "text/html" and html is None:
            html = html_to_text(text)
    return plain or html or ""


def parse(raw: bytes) -> ParsedMail:
    """One message as a remark's parts; ``MailError`` when it is no e-mail or has no text."""
    if not raw.strip():
        raise MailError("remark_mail_unreadable", "文件为空，不是电子邮件")
    message = BytesParser(policy=compat32).parsebytes(raw)
    if not any(message.get(h) for h in ("From", "Subject", "Message-ID", "Date")):
        raise MailError("remark_mail_unreadable", "文件不是电子邮件（没有发件人、主题等邮件头）")
    message_id = (message.get("Message-ID") or "").strip()
    digest = hashlib.sha256(
        message_id.encode("utf-8", "surrogateescape") if message_id else b"raw:" + raw
    ).hexdigest()
    subject = decode_header_value(message.get("Subject"))
    body = _body(message)
    if not subject.strip() and not body.strip():
        raise MailError("remark_mail_empty", "邮件没有主题和正文")
    name, address = parseaddr(decode_header_value(message.get("From")))
    return ParsedMail(
        message_hash=digest,
        subject=subject,
        body=body,
        sender_email=address if "@" in address else None,
        sender_name=name.strip() or None,
    )

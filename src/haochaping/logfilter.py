"""Logs never carry a rater's clear personal data (C9: the rater's information is confidential).

``PersonalDataFilter`` masks mainland mobile numbers (138****8000) and ID numbers, 18-digit
(4502**********1234) and old 15-digit ones, in the message, its arguments, the exception text
and the stack; ``MaskingFormatter`` masks the final line again, whatever produced it.
``configure_logging`` installs both on every handler there is (root, uvicorn's, any other).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from haochaping.privacy import mask_id_no, mask_phone

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# uvicorn's access formatter reads the record's arguments (client, method, path...) itself.
ARGS_KEEPING_LOGGERS = frozenset({"uvicorn.access"})

_PERSONAL = re.compile(
    r"(?<!\d)(?:"
    r"(?P<id>\d{17}[\dXx]|\d{15})"
    r"|(?P<cc>\+?86[- ]?)?(?P<phone>1[3-9]\d[- ]?\d{4}[- ]?\d{4})"
    r")(?!\d)"
)
_NON_DIGITS = re.compile(r"\D")


def _mask(match: re.Match[str]) -> str:
    id_no = match.group("id")
    if id_no is not None:
        return mask_id_no(id_no) or ""
    digits = _NON_DIGITS.sub("", match.group("phone"))
    return (match.group("cc") or "") + (mask_phone(digits) or "")


def mask_personal_data(text: str) -> str:
    """``text`` with every mobile number and ID number (not part of a longer number) masked."""
    return _PERSONAL.sub(_mask, text)


def _mask_arg(value: Any) -> Any:
    return mask_personal_data(value) if isinstance(value, str) else value


_exception_formatter = logging.Formatter()


class PersonalDataFilter(logging.Filter):
    """Masks personal data in a record before any handler formats it; never drops a record.

    By default the message is formatted first (``record.getMessage()``), masked, and kept as
    the record's message with no arguments left, so numbers passed as arguments are masked
    too. With ``keep_args`` (for formatters that read ``record.args`` themselves, such as
    uvicorn's access log) the message template and each string argument are masked instead."""

    def __init__(self, name: str = "", *, keep_args: bool = False) -> None:
        super().__init__(name)
        self.keep_args = keep_args

    def filter(self, record: logging.LogRecord) -> bool:
        if self.keep_args and record.args:
            if isinstance(record.msg, str):
                record.msg = mask_personal_data(record.msg)
            if isinstance(record.args, Mapping):
                record.args = {k: _mask_arg(v) for k, v in record.args.items()}
            else:
                record.args = tuple(_mask_arg(v) for v in record.args)
        else:
            try:
                message = record.getMessage()
            except Exception:  # a bad format string: the handler reports it as usual
                return True
            record.msg, record.args = mask_personal_data(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = _exception_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_personal_data(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_personal_data(record.stack_info)
        return True


class MaskingFormatter(logging.Formatter):
    """Wraps a handler's formatter and masks the line it produces: the last line of defence,
    whatever a record carries and however it is formatted."""

    def __init__(self, inner: logging.Formatter | None = None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return mask_personal_data(self.inner.format(record))


def install(handler: logging.Handler, *, keep_args: bool = False) -> None:
    """Put the filter and the masking formatter on ``handler`` (once)."""
    if not any(isinstance(f, PersonalDataFilter) for f in handler.filters):
        handler.addFilter(PersonalDataFilter(keep_args=keep_args))
    if not isinstance(handler.formatter, MaskingFormatter):
        handler.setFormatter(MaskingFormatter(handler.formatter))


def configure_logging(level: int | str = "INFO") -> None:
    """Log to stderr at ``level`` (unless the root logger has handlers already) and mask
    personal data on every handler of every logger configured so far, uvicorn's included.

    Call it after uvicorn has set up its logging, e.g. in the application factory."""
    root = logging.getLogger()
    if not root.handlers:
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(stream)
    root.setLevel(level)
    loggers = [root, *(logging.getLogger(name) for name in UVICORN_LOGGERS)]
    loggers += [
        logger
        for logger in list(logging.root.manager.loggerDict.values())
        if isinstance(logger, logging.Logger) and logger not in loggers
    ]
    for logger in loggers:
        for handler in logger.handlers:
            install(handler, keep_args=logger.name in ARGS_KEEPING_LOGGERS)
